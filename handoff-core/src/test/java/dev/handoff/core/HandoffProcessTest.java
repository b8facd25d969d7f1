package dev.handoff.core;

import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.testing.JavaChild;
import dev.handoff.core.testing.OpenFds;
import dev.handoff.core.testing.RawSuccessor;
import dev.handoff.core.testing.ServerChild;
import dev.handoff.core.testing.ServerFixture;
import dev.handoff.core.testing.ThreadPriorities;
import dev.handoff.core.wire.Message;
import dev.handoff.core.wire.WireChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Files;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Handoffs between real child JVMs, with a real client on loopback. */
@Timeout(120)
class HandoffProcessTest {

    private static final Duration START = Duration.ofSeconds(60);

    @RegisterExtension
    final ServerFixture fixture = new ServerFixture();

    private Path socket;
    private final List<Long> strayPids = new ArrayList<>();

    @BeforeEach
    void setUp() {
        socket = fixture.socket();
    }

    @AfterEach
    void killStrays() {
        strayPids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
    }

    private JavaChild server(String... extra) throws IOException {
        return fixture.server(extra);
    }

    private String[] fetch() throws IOException {
        return fixture.fetch();
    }

    @Test
    void childTakesOverTheListenerWhileAClientConnectsInATightLoop() throws Exception {
        JavaChild first = server();
        first.awaitLine("READY", START);
        AtomicBoolean running = new AtomicBoolean(true);
        Set<String> pids = new LinkedHashSet<>();
        List<String> errors = new ArrayList<>();
        int[] requests = new int[1];
        Thread client = new Thread(() -> {
            while (running.get()) {
                try {
                    pids.add(fetch()[0]);
                    requests[0]++;
                } catch (IOException e) {
                    errors.add(e.toString());
                }
            }
        });
        client.start();
        Thread.sleep(300);
        JavaChild second = server();
        String ready = second.awaitLine("READY", START);
        assertTrue(ready.endsWith("generation=2"), ready);
        assertEquals(0, first.awaitExit(Duration.ofSeconds(30)), "the incumbent exits cleanly once drained");
        Thread.sleep(300);
        running.set(false);
        client.join();
        assertEquals(List.of(), errors, "no refused or reset connection during the handoff");
        assertEquals(List.of(Long.toString(first.pid()), Long.toString(second.pid())), List.copyOf(pids),
                "answers came from the first process, then from the second (" + requests[0] + " requests)");
        assertEquals(Long.toString(second.pid()), fetch()[0]);
    }

    /**
     * A process rehearses a handoff with itself at start-up under java.io.tmpdir; where it cannot (here a
     * file, like a read-only one), it says so and hands over and takes over as well, only less warm.
     */
    @Test
    void processesThatCannotRehearseSaySoAndStillHandOver() throws Exception {
        Path notADirectory = Files.writeString(fixture.directory().resolve("not-a-directory"), "");
        List<String> flags = new ArrayList<>(JavaChild.JVM_FLAGS);
        flags.addAll(List.of("-Djava.io.tmpdir=" + notADirectory,
                "-Dorg.newsclub.net.unix.library.tmpdir=" + Files.createDirectories(fixture.directory().resolve("native")),
                "-Dorg.slf4j.simpleLogger.logFile=System.out", "-Dorg.slf4j.simpleLogger.showDateTime=false"));
        String notRehearsed = "[main] INFO dev.handoff.core.WarmUp - the handoff was not rehearsed";
        JavaChild first = fixture.start(new ProcessBuilder(JavaChild.command(flags, ServerChild.class, socket.toString(), "0")));
        first.awaitLine(notRehearsed, START);
        first.awaitLine("READY", START);
        String[] before = fetch();
        JavaChild second = fixture.start(new ProcessBuilder(JavaChild.command(flags, ServerChild.class, socket.toString(),
                Integer.toString(fixture.port()))));
        second.awaitLine(notRehearsed, START);
        assertTrue(second.awaitLine("READY", START).endsWith("generation=2"));
        assertEquals(0, first.awaitExit(Duration.ofSeconds(30)));
        assertEquals(List.of(Long.toString(second.pid()), "2"), List.of(fetch()).subList(0, 2), "was " + List.of(before));
    }

    @ParameterizedTest
    @ValueSource(strings = {"connect", "hello", "manifest", "ready"})
    void successorKilledAtAnyStepLeavesTheIncumbentServingWithoutLeaks(String step) throws Exception {
        JavaChild incumbent = server("--probation-ms", "3000");
        incumbent.awaitLine("READY", START);
        String[] before = fetch();
        // Twice: the first attempt may open one-time descriptors of the JDK's; the second must not add any.
        killSuccessorAt(step, incumbent);
        OpenFds afterFirst = OpenFds.of(incumbent.pid());
        killSuccessorAt(step, incumbent);
        afterFirst.assertNoLeak();
        assertEquals(before[0], fetch()[0], "the incumbent still answers");
        assertTrue(incumbent.process().isAlive());
    }

    private void killSuccessorAt(String step, JavaChild incumbent) throws Exception {
        JavaChild successor = fixture.start(RawSuccessor.class, socket.toString(), step);
        successor.awaitLine("AT " + step, START);
        successor.kill9();
        if (step.equals("connect")) {
            return; // gone before its hello: a probe, not a handoff, so nothing is reported
        }
        String handoff = incumbent.awaitLine("HANDOFF", Duration.ofSeconds(30));
        assertTrue(handoff.startsWith("HANDOFF FAILED"), handoff);
    }

    @Test
    void aSecondSuccessorIsToldBusy() throws Exception {
        JavaChild incumbent = server();
        incumbent.awaitLine("READY", START);
        JavaChild first = fixture.start(RawSuccessor.class, socket.toString(), "hello");
        first.awaitLine("AT hello", START);
        HandoffRejectedException busy = assertThrows(HandoffRejectedException.class,
                () -> Handoff.start(HandoffOptions.builder(socket).busyTimeout(Duration.ZERO).build()));
        assertEquals(HandoffResult.Outcome.BUSY, busy.outcome());
        assertTrue(incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10)).startsWith("HANDOFF BUSY"));
        first.kill9();
        assertEquals(Long.toString(incumbent.pid()), fetch()[0]);
    }

    @Test
    void aPeerWhoseUidTheIncumbentDoesNotAllowIsRefusedAndItServesOn() throws Exception {
        JavaChild incumbent = server("--allow-uid", "4242");
        incumbent.awaitLine("READY", START);
        HandoffRejectedException refused = assertThrows(HandoffRejectedException.class,
                () -> Handoff.start(HandoffOptions.builder(socket).build()));
        assertEquals(HandoffResult.Outcome.REFUSED, refused.outcome());
        assertTrue(refused.getMessage().contains("uid"), refused.getMessage());
        assertTrue(incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10)).startsWith("HANDOFF REFUSED"));
        assertEquals(Long.toString(incumbent.pid()), fetch()[0]);
    }

    @Test
    void garbageMalformedJsonAndAWrongProtocolVersionAreClearErrorsAndTheIncumbentKeepsServing() throws Exception {
        JavaChild incumbent = server();
        incumbent.awaitLine("READY", START);
        sendGarbage(incumbent);
        String[] before = fetch();
        OpenFds fdsBefore = OpenFds.of(incumbent.pid());
        sendGarbage(incumbent);
        try (FdChannel frames = FdChannel.connect(socket, FdLimits.DEFAULT)) {
            frames.send("{\"type\": \"hello\", \"versions\": [1".getBytes(StandardCharsets.UTF_8));
            String failure = incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10));
            assertTrue(failure.contains("malformed frame"), failure);
        }
        try (WireChannel wire = new WireChannel(FdChannel.connect(socket, FdLimits.DEFAULT))) {
            wire.send(new Message.Hello(List.of(99), ProcessHandle.current().pid(), 60, List.of()));
            try (WireChannel.Received<Message> answer = wire.receive(Duration.ofSeconds(10), Message.Refused.class)) {
                Message.Refused refused = assertInstanceOf(Message.Refused.class, answer.message());
                assertTrue(refused.reason().contains("no common protocol version"), refused.reason());
            }
        }
        assertTrue(incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10)).startsWith("HANDOFF REFUSED"));
        assertEquals(before[0], fetch()[0]);
        fdsBefore.assertNoLeak();
    }

    private void sendGarbage(JavaChild incumbent) throws Exception {
        try (AFUNIXSocket raw = AFUNIXSocket.newInstance()) {
            raw.connect(AFUNIXSocketAddress.of(socket));
            raw.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String failure = incumbent.awaitLine("HANDOFF", Duration.ofSeconds(10));
            assertTrue(failure.contains("not a Handoff fd message"), failure);
        }
    }

    @Test
    void upgradeStartsTheConfiguredSuccessorAndReportsSuccess() throws Exception {
        JavaChild incumbent = server("--upgrade-after-ms", "200");
        incumbent.awaitLine("READY pid=" + incumbent.pid(), START);
        // The successor inherits the incumbent's stdout, so its READY line arrives on the same stream.
        String ready = incumbent.awaitLine("READY", START);
        long successorPid = Long.parseLong(ready.replaceAll(".*pid=(\\d+).*", "$1"));
        strayPids.add(successorPid);
        assertTrue(ready.endsWith("generation=2"), ready);
        assertTrue(incumbent.awaitLine("UPGRADE", START).startsWith("UPGRADE SUCCEEDED"));
        assertEquals(0, incumbent.awaitExit(Duration.ofSeconds(30)));
        assertEquals(Long.toString(successorPid), fetch()[0]);
    }

    @Test
    void anUpgradeThatTimesOutKillsTheWholeTreeSoThatAWrappersChildCannotTakeOverLater() throws Exception {
        // sh starts the real successor in the background; it would say READY after 6 s, past the 2 s timeout.
        JavaChild incumbent = server("--upgrade-after-ms", "0", "--upgrade-timeout-ms", "2000", "--upgrade-via-shell",
                "--successor-ready-after-ms", "6000");
        incumbent.awaitLine("READY pid=" + incumbent.pid(), START);
        String upgrade = incumbent.awaitLine("UPGRADE", START);
        assertTrue(upgrade.startsWith("UPGRADE FAILED") && upgrade.contains("killed it"), upgrade);
        ProcessHandle self = ProcessHandle.of(incumbent.pid()).orElseThrow();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (self.descendants().findAny().isPresent() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(List.of(), self.descendants().map(ProcessHandle::pid).toList(), "nothing of the tree is left");
        Thread.sleep(6_000); // past the moment the grandchild would have said READY: nobody took over
        for (int i = 0; i < 10; i++) {
            assertEquals(Long.toString(incumbent.pid()), fetch()[0]);
        }
        assertTrue(incumbent.isAlive());
    }

    @Test
    void theRendezvousAcceptorOutlivesRunningOutOfDescriptorsAndTakesTheNextSuccessor() throws Exception {
        JavaChild incumbent = server();
        incumbent.awaitLine("READY", START);
        Path log = Path.of("target", "child-logs", "children.log");
        long mark = Files.exists(log) ? Files.size(log) : 0;
        long open;
        try (java.util.stream.Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(incumbent.pid()), "fd"))) {
            open = fds.count();
        }
        // No descriptor left: every accept on the rendezvous socket fails (EMFILE) until the limit is raised.
        prlimit(incumbent.pid(), open);
        try {
            assertTrue(dev.handoff.core.fd.FdServer.isLive(socket), "connects (into the backlog) all the same");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!logSince(log, mark).contains("accepting on the rendezvous socket failed")) {
                assertTrue(System.nanoTime() < deadline, "the accept never failed: " + logSince(log, mark));
                Thread.sleep(50);
            }
        } finally {
            prlimit(incumbent.pid(), 20_000);
        }
        JavaChild successor = server();
        assertTrue(successor.awaitLine("READY", START).endsWith("generation=2"), "the acceptor went on");
        assertEquals(0, incumbent.awaitExit(Duration.ofSeconds(30)));
    }

    @Test
    void aSuccessorStartsTenStepsNicerThanItServesAndServesAtItsUsualPriority() throws Exception {
        assumeTrue(ThreadPriorities.canRaise(), "restoring a priority needs CAP_SYS_NICE; without it nothing is lowered");
        JavaChild incumbent = server();
        incumbent.awaitLine("START cold", START);
        int usual = ThreadPriorities.niceOf(ProcessHandle.current().pid());
        assertEquals(Set.of(usual), ThreadPriorities.threadNices(incumbent.pid()), "a cold start is never lowered");
        incumbent.awaitLine("READY", START);
        JavaChild successor = server("--ready-after-ms", "2000");
        successor.awaitLine("START inherited", START);
        assertEquals(Set.of(Math.min(19, usual + 10)), ThreadPriorities.threadNices(successor.pid()), "every thread, until READY");
        successor.awaitLine("READY", START);
        assertEquals(Set.of(usual), ThreadPriorities.threadNices(successor.pid()), "every thread, from READY on");
        assertEquals(0, incumbent.awaitExit(Duration.ofSeconds(30)));
    }

    private static void prlimit(long pid, long descriptors) throws IOException, InterruptedException {
        Process prlimit = new ProcessBuilder("prlimit", "--pid", Long.toString(pid), "--nofile=" + descriptors + ":20000")
                .inheritIO().start();
        assertEquals(0, prlimit.waitFor());
    }

    private static String logSince(Path log, long mark) throws IOException {
        byte[] all = Files.readAllBytes(log);
        return new String(all, (int) Math.min(mark, all.length), (int) Math.max(0, all.length - mark), StandardCharsets.UTF_8);
    }
}
