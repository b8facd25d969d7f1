package dev.handoff.core;

import dev.handoff.core.session.Fault;
import dev.handoff.core.session.IncumbentState;
import dev.handoff.core.session.SuccessorState;
import dev.handoff.core.testing.JavaChild;
import dev.handoff.core.testing.OpenFds;
import dev.handoff.core.testing.ScriptedPeer;
import dev.handoff.core.testing.ServerFixture;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Walks the state machines' (role, state, fault) pairs between real processes: a {@link ScriptedPeer}
 * brings the process under test (a {@code ServerChild}) into the state and commits the fault there (it
 * stalls, dies, sends bytes that are not a message, or a message the state does not expect). The outcome
 * expected is the one the state machine's own table gives ({@code after(fault)}); after it has settled,
 * exactly one process answers on the port, and the incumbent, where it serves on, has leaked nothing.
 */
@Timeout(120)
class StateFaultWalkTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final List<Fault> FAULTS = List.of(Fault.TIMEOUT, Fault.PEER_DIED, Fault.MALFORMED, Fault.UNEXPECTED);

    @RegisterExtension
    final ServerFixture fixture = new ServerFixture();

    static Stream<Arguments> incumbentPairs() {
        return Stream.of(IncumbentState.AWAIT_HELLO, IncumbentState.AWAIT_READY, IncumbentState.PROBATION)
                .flatMap(state -> FAULTS.stream().map(fault -> Arguments.of(state, fault)));
    }

    static Stream<Arguments> successorPairs() {
        return Stream.of(SuccessorState.AWAIT_WELCOME, SuccessorState.AWAIT_MANIFEST, SuccessorState.AWAIT_CONFIRM,
                SuccessorState.RECEIVING).flatMap(state -> FAULTS.stream().map(fault -> Arguments.of(state, fault)));
    }

    @ParameterizedTest(name = "incumbent in {0}, successor: {1}")
    @MethodSource("incumbentPairs")
    void anIncumbentEndsWhereItsTableSaysAndOneProcessServes(IncumbentState state, Fault fault) throws Exception {
        IncumbentState expected = state.after(fault);
        JavaChild incumbent = fixture.server("--step-timeout-ms", "1000", "--ready-timeout-ms", "1500",
                "--probation-ms", "1500");
        incumbent.awaitLine("READY", WAIT);
        OpenFds fds = OpenFds.of(incumbent.pid());
        JavaChild peer = fixture.start(ScriptedPeer.class, "successor", fixture.socket().toString(), state.name(),
                fault.name());
        peer.awaitLine("AT " + state, WAIT);
        switch (expected) {
            case UNHEARD -> {
                // Nothing is recorded: the first handoff the incumbent reports is the next real one.
                peer.awaitExit(WAIT);
                JavaChild next = fixture.server();
                next.awaitLine("READY", WAIT);
                String first = incumbent.awaitLine("HANDOFF", WAIT);
                assertTrue(first.startsWith("HANDOFF SUCCEEDED"), first);
                fixture.awaitServedBy(next.pid());
            }
            case FAILED -> {
                String failed = incumbent.awaitLine("HANDOFF", WAIT);
                assertTrue(failed.startsWith("HANDOFF FAILED"), failed);
                assertAllServedBy(incumbent.pid());
                fds.assertNoLeak();
            }
            case TAKEN_OVER, DETACHED -> {
                String succeeded = incumbent.awaitLine("HANDOFF", WAIT);
                assertTrue(succeeded.startsWith("HANDOFF SUCCEEDED") && (expected == IncumbentState.TAKEN_OVER
                        || succeeded.contains("detached")), succeeded);
                assertEquals(0, incumbent.awaitExit(WAIT));
                assertAllServedBy(peer.pid());
            }
            default -> throw new AssertionError("no walk for " + expected);
        }
    }

    @ParameterizedTest(name = "successor in {0}, incumbent: {1}")
    @MethodSource("successorPairs")
    void aSuccessorEndsWhereItsTableSaysAndOneProcessServes(SuccessorState state, Fault fault) throws Exception {
        SuccessorState expected = state.after(fault);
        JavaChild peer = fixture.start(ScriptedPeer.class, "incumbent", fixture.socket().toString(),
                Integer.toString(fixture.port()), state.name(), fault.name());
        peer.awaitLine("LISTENING", WAIT);
        JavaChild successor = fixture.server("--step-timeout-ms", "2000");
        peer.awaitLine("AT " + state, WAIT);
        switch (expected) {
            case COLD -> {
                assertTrue(successor.awaitLine("START", WAIT).startsWith("START cold"));
                assertTrue(successor.awaitLine("READY", WAIT).endsWith("generation=1"));
                assertAllServedBy(successor.pid());
            }
            case FAILED -> {
                assertTrue(successor.awaitLine("FAILED", WAIT).startsWith("FAILED"));
                assertEquals(3, successor.awaitExit(WAIT));
                assertAllServedBy(peer.pid());
            }
            case WITHDRAWN -> {
                successor.awaitLine("WITHDRAWN", WAIT);
                assertEquals(4, successor.awaitExit(WAIT));
                assertAllServedBy(peer.pid());
            }
            case ALONE, DONE -> {
                assertTrue(successor.awaitLine("READY", WAIT).endsWith("generation=2"));
                assertAllServedBy(successor.pid());
                // Its reception is over (goodbye, end of stream, or the drain's deadline): a third generation
                // is not kept waiting by the faulty one.
                JavaChild third = fixture.server("--step-timeout-ms", "2000");
                assertTrue(third.awaitLine("READY", WAIT).endsWith("generation=3"));
            }
            default -> throw new AssertionError("no walk for " + expected);
        }
    }

    /** Twenty requests in a row, each answered by {@code pid}. */
    private void assertAllServedBy(long pid) throws IOException, InterruptedException {
        fixture.awaitServedBy(pid);
        for (int i = 0; i < 20; i++) {
            assertEquals(Long.toString(pid), fixture.fetch()[0], "request " + i);
        }
    }
}
