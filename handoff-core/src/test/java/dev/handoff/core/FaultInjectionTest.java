package dev.handoff.core;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.core.testing.OpenFds;
import dev.handoff.core.testing.RawIncumbent;
import dev.handoff.core.testing.RawSuccessor;
import dev.handoff.core.testing.ServerFixture;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Faults provoked for real between child JVMs: an incumbent killed at each step, a stopped or silent
 * successor, the rendezvous socket removed, successors that arrive together or too early. Throughout,
 * whoever survives serves.
 */
@Timeout(120)
class FaultInjectionTest {

    private static final Duration START = Duration.ofSeconds(60);

    @RegisterExtension
    final ServerFixture fixture = new ServerFixture();

    @ParameterizedTest
    @ValueSource(strings = {"accepted", "welcome", "manifest", "ready"})
    void anIncumbentKilledAtAnyStepLeavesASuccessorThatServesAndSaysHowItStarted(String step) throws Exception {
        JavaChild incumbent = fixture.start(RawIncumbent.class, fixture.socket().toString(),
                Integer.toString(fixture.port()), step);
        incumbent.awaitLine("LISTENING", START);
        // After the manifest the successor waits before READY, so that the incumbent is surely dead by then.
        JavaChild successor = fixture.server("--step-timeout-ms", "3000", "--ready-after-ms",
                step.equals("manifest") ? "1000" : "0");
        incumbent.awaitLine("AT " + step, START);
        incumbent.kill9();
        boolean received = step.equals("manifest") || step.equals("ready");
        String start = successor.awaitLine("START", START);
        assertTrue(start.startsWith(received ? "START inherited" : "START cold the incumbent (pid " + incumbent.pid()
                + ") went away before it handed anything over"), start);
        String ready = successor.awaitLine("READY", START);
        assertTrue(ready.endsWith("generation=" + (received ? 2 : 1)), ready);
        assertEquals(Long.toString(successor.pid()), fixture.fetch()[0], "the successor serves the port");
    }

    /**
     * The incumbent sends three batches back to back and dies before it reads an answer: the successor
     * keeps the batch whose answer failed and the two still queued behind it. In its own pid namespace
     * ({@code unshare --pid}) the successor sees the incumbent as pid 0, so only the lifeline can tell it
     * the incumbent is gone.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void everyConnectionQueuedByAnIncumbentThatDiesMidTransferIsServedByTheSuccessor(boolean ownPidNamespace)
            throws Exception {
        Assumptions.assumeTrue(!ownPidNamespace || canUnsharePidNamespace(), "unshare --pid is not permitted here");
        JavaChild incumbent = fixture.start(RawIncumbent.class, fixture.socket().toString(),
                Integer.toString(fixture.port()), "connections");
        incumbent.awaitLine("LISTENING", START);
        List<Socket> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                Socket client = new Socket();
                clients.add(client);
                client.connect(new InetSocketAddress("127.0.0.1", fixture.port()), 5000);
                client.setSoTimeout(30_000);
            }
            List<String> command = new ArrayList<>(ownPidNamespace
                    // --kill-child: ending unshare (as the fixture does at the end) ends the server in the namespace too
                    ? List.of("unshare", "--pid", "--fork", "--kill-child") : List.of());
            command.addAll(JavaChild.command(dev.handoff.core.testing.ServerChild.class, fixture.socket().toString(),
                    Integer.toString(fixture.port()), "--adopt"));
            JavaChild successor = fixture.start(new ProcessBuilder(command));
            successor.awaitLine("READY", START);
            for (Socket client : clients) {
                String line = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.US_ASCII))
                        .readLine();
                assertTrue(line != null && line.startsWith("ADOPTED "), "every connection the dead incumbent sent "
                        + "is served by the successor, got: " + line);
            }
            assertEquals(0, incumbent.awaitExit(Duration.ofSeconds(10)));
        } finally {
            for (Socket client : clients) {
                client.close();
            }
        }
    }

    private static boolean canUnsharePidNamespace() throws InterruptedException {
        try {
            return new ProcessBuilder("unshare", "--pid", "--fork", "--kill-child", "true").start().waitFor() == 0;
        } catch (IOException e) {
            return false;
        }
    }

    @Test
    void aSuccessorWhoseReadyComesAfterTheReadyTimeoutWithdrawsAndOnlyTheIncumbentServes() throws Exception {
        JavaChild incumbent = fixture.server("--ready-timeout-ms", "2000");
        incumbent.awaitLine("READY", START);
        JavaChild successor = fixture.server("--ready-after-ms", "4000");
        successor.awaitLine("START inherited", START);
        String failed = incumbent.awaitLine("HANDOFF", Duration.ofSeconds(20));
        assertTrue(failed.startsWith("HANDOFF FAILED successor timed out in AWAIT_READY"), failed);
        String withdrawn = successor.awaitLine("WITHDRAWN", Duration.ofSeconds(20));
        assertTrue(withdrawn.contains("did not take READY: READY did not come within the incumbent's readyTimeout (PT2S)"),
                withdrawn);
        assertEquals(4, successor.awaitExit(Duration.ofSeconds(10)), "the late successor exits, failed");
        assertAllServedBy(incumbent.pid());
    }

    @Test
    void aSuccessorWhoseReadyMeetsAStoppedIncumbentWithdrawsAndTheIncumbentServesOnOnceContinued() throws Exception {
        JavaChild incumbent = fixture.server();
        incumbent.awaitLine("READY", START);
        JavaChild successor = fixture.server("--ready-after-ms", "1500", "--step-timeout-ms", "1500");
        successor.awaitLine("START inherited", START);
        incumbent.signal("STOP");
        try {
            String withdrawn = successor.awaitLine("WITHDRAWN", Duration.ofSeconds(20));
            assertTrue(withdrawn.contains("did not confirm READY in AWAIT_CONFIRM"), withdrawn);
            assertEquals(4, successor.awaitExit(Duration.ofSeconds(10)));
        } finally {
            incumbent.signal("CONT");
        }
        // Going on, the incumbent reads the READY that waited for it; its confirmation fails, so it serves on.
        String failed = incumbent.awaitLine("HANDOFF", Duration.ofSeconds(20));
        assertTrue(failed.startsWith("HANDOFF FAILED could not confirm READY"), failed);
        assertAllServedBy(incumbent.pid());
    }

    /** Twenty requests in a row, each answered by {@code pid}: nobody else accepts on the port. */
    private void assertAllServedBy(long pid) throws IOException {
        for (int i = 0; i < 20; i++) {
            assertEquals(Long.toString(pid), fixture.fetch()[0], "request " + i);
        }
    }

    /**
     * A real successor stopped (SIGSTOP) in the middle of its start, with the inherited listener in hand:
     * the incumbent's ready timeout passes and it serves on; continued, the successor learns it came too
     * late and withdraws, closing its copy of the listener, so that only the incumbent accepts.
     */
    @Test
    void aSuccessorStoppedDuringItsStartTimesOutAndOnceContinuedWithdrawsAndNeverServes() throws Exception {
        JavaChild incumbent = fixture.server("--ready-timeout-ms", "1500");
        incumbent.awaitLine("READY", START);
        OpenFds fds = OpenFds.of(incumbent.pid());
        JavaChild successor = fixture.server("--ready-after-ms", "500");
        successor.awaitLine("START inherited", START);
        successor.signal("STOP");
        try {
            String failed = incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10));
            assertTrue(failed.startsWith("HANDOFF FAILED successor timed out in AWAIT_READY"), failed);
        } finally {
            successor.signal("CONT");
        }
        String withdrawn = successor.awaitLine("WITHDRAWN", Duration.ofSeconds(20));
        assertTrue(withdrawn.contains("did not take READY"), withdrawn);
        assertEquals(4, successor.awaitExit(Duration.ofSeconds(10)));
        assertAllServedBy(incumbent.pid());
        // A successor continued late may have renamed its rendezvous socket over the path before it heard it
        // was refused: the incumbent then binds a new one and closes its old one.
        fds.assertNoMoreThanBefore();
    }

    @ParameterizedTest
    @ValueSource(strings = {"connect", "manifest"})
    void aSuccessorSilentAfterConnectingOrNeverReadyTimesOutAndTheIncumbentKeepsServing(String step) throws Exception {
        JavaChild incumbent = fixture.server("--step-timeout-ms", "1500", "--ready-timeout-ms", "1500");
        incumbent.awaitLine("READY", START);
        JavaChild successor = fixture.start(RawSuccessor.class, fixture.socket().toString(), step);
        successor.awaitLine("AT " + step, START);
        String failed = incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10));
        String state = step.equals("connect") ? "AWAIT_HELLO" : "AWAIT_READY";
        assertTrue(failed.startsWith("HANDOFF FAILED successor timed out in " + state), failed);
        successor.kill9();
        assertEquals(Long.toString(incumbent.pid()), fixture.fetch()[0]);
        JavaChild next = fixture.server();
        assertTrue(next.awaitLine("READY", START).endsWith("generation=2"), "the next successor takes over");
    }

    @ParameterizedTest
    @ValueSource(strings = {"deleted", "replaced"})
    void aRendezvousSocketDeletedOrReplacedIsPutBack(String how) throws Exception {
        JavaChild incumbent = fixture.server();
        incumbent.awaitLine("READY", START);
        Files.delete(fixture.socket());
        if (how.equals("replaced")) {
            Files.writeString(fixture.socket(), "not a socket");
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!isSocket(fixture.socket()) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        JavaChild successor = fixture.server();
        assertEquals("START inherited", successor.awaitLine("START", START));
        assertTrue(successor.awaitLine("READY", START).endsWith("generation=2"));
        assertEquals(0, incumbent.awaitExit(Duration.ofSeconds(30)));
    }

    @Test
    void twoSuccessorsStartedAtOnceNeverCostARequest() throws Exception {
        JavaChild incumbent = fixture.server();
        incumbent.awaitLine("READY", START);
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger requests = new AtomicInteger();
        List<String> errors = Collections.synchronizedList(new ArrayList<>());
        Thread client = new Thread(() -> {
            while (running.get()) {
                try {
                    fixture.fetch();
                    requests.incrementAndGet();
                } catch (IOException e) {
                    errors.add(e.toString());
                }
            }
        });
        client.start();
        JavaChild first = fixture.server();
        JavaChild second = fixture.server();
        List<String> outcomes = new ArrayList<>();
        for (JavaChild successor : List.of(first, second)) {
            outcomes.add(successor.awaitLine(START, "READY", "FAILED"));
        }
        running.set(false);
        client.join();
        assertEquals(List.of(), errors, "no request failed (" + requests.get() + " made)");
        assertTrue(outcomes.stream().anyMatch(line -> line.endsWith("generation=2")), outcomes.toString());
        for (String outcome : outcomes) {
            // The loser is told busy, or (if it came once the winner served) takes over from the winner.
            assertTrue(outcome.endsWith("generation=2") || outcome.endsWith("generation=3")
                    || outcome.startsWith("FAILED incumbent is busy"), outcome);
        }
        assertEquals(0, incumbent.awaitExit(Duration.ofSeconds(30)));
    }

    @Test
    void aThirdGenerationWaitsWhileTheSecondStillReceivesConnectionsAndTakesOverOnceTheFirstHasExited() throws Exception {
        JavaChild first = fixture.server("--linger-ms", "6000");
        first.awaitLine("READY", START);
        JavaChild second = fixture.server("--adopt", "--step-timeout-ms", "2000");
        second.awaitLine("READY", START);
        JavaChild third = fixture.server();
        fixture.awaitServedBy(second.pid()); // the first stops accepting once probation is over
        assertEquals(Long.toString(second.pid()), fixture.fetch()[0], "the second serves while the third waits");
        assertTrue(third.isAlive(), "waiting, not failed");
        assertEquals(0, first.awaitExit(Duration.ofSeconds(30)));
        assertTrue(third.awaitLine("READY", START).endsWith("generation=3"), "once generation 1 is gone, it takes over");
        assertEquals(0, second.awaitExit(Duration.ofSeconds(30)));
        assertEquals(Long.toString(third.pid()), fixture.fetch()[0]);
    }

    @Test
    void aThirdGenerationGivesUpAfterItsBusyTimeoutWithOneClearLine() throws Exception {
        JavaChild first = fixture.server("--linger-ms", "8000");
        first.awaitLine("READY", START);
        JavaChild second = fixture.server("--adopt", "--step-timeout-ms", "2000");
        second.awaitLine("READY", START);
        JavaChild third = fixture.server("--busy-timeout-ms", "1500");
        String refused = third.awaitLine("FAILED", START);
        assertTrue(refused.startsWith("FAILED still busy after PT1.5S (busyTimeout): incumbent is busy: generation 1 (pid "
                + first.pid() + ") is still handing its connections to this process (generation 2)"), refused);
        assertEquals(3, third.awaitExit(Duration.ofSeconds(10)));
        assertEquals(Long.toString(second.pid()), fixture.fetch()[0]);
    }

    private static boolean isSocket(Path path) throws IOException {
        return Files.exists(path) && Files.readAttributes(path, BasicFileAttributes.class).isOther();
    }

}
