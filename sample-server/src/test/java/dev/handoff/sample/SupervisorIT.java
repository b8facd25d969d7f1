package dev.handoff.sample;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.harness.Main;
import dev.handoff.harness.ServerProcesses;
import dev.handoff.harness.load.LineClients;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The harness's {@code supervise -- <command>} (the Docker image's PID 1) with the sample jar's command line,
 * outside a container: SIGHUP to the supervisor starts the next generation with the same command, which
 * takes the live connections over; SIGTERM stops the serving one gracefully and the supervisor exits with
 * its status.
 */
class SupervisorIT {

    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path temp;

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void sighupStartsTheNextGenerationWithTheSameCommandAndTermStopsIt() throws Exception {
        InetSocketAddress echo = new InetSocketAddress("127.0.0.1", ServerProcesses.freePort());
        Path socket = temp.resolve("run").resolve("sample.sock");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        try (JavaChild supervisor = JavaChild.start(Main.class, "supervise", "--", java, "-jar",
                Path.of("target", "sample-server.jar").toString(), "--echo", "127.0.0.1:" + echo.getPort(),
                "--socket", socket.toString())) {
            try {
                Path pidFile = Path.of(socket + ".pid"); // the command names none: the supervisor adds it
                assertEquals("SUPERVISOR pid=" + supervisor.pid() + " pid-file=" + pidFile, supervisor.awaitLine("SUPERVISOR pid=", WAIT));
                long first = readyPid(supervisor, 1);
                long second;
                try (LineClients clients = LineClients.open(echo, 2, Duration.ofMillis(20))) {
                    ServerProcesses.signal(supervisor.pid(), "HUP");
                    second = readyPid(supervisor, 2);
                    supervisor.awaitLine("EXIT pid=" + first + " handed over to pid " + second + " ", WAIT);
                    assertEquals("SUPERVISOR follows pid " + second, supervisor.awaitLine("SUPERVISOR follows", WAIT));
                    assertEquals(Long.toString(second), Files.readString(pidFile).trim());
                    long deadline = System.nanoTime() + WAIT.toNanos();
                    while (clients.fewestPidsSeen() < 2 && clients.alive() == 2) { // each connection, answered by both
                        assertTrue(System.nanoTime() < deadline, "pids per echo connection: " + clients.pidsPerConnection());
                        Thread.sleep(20);
                    }
                    assertEquals(List.of(), clients.losses());
                }
                ServerProcesses.signal(supervisor.pid(), "TERM");
                supervisor.awaitLine("EXIT pid=" + second + " stopped; ", WAIT);
                assertEquals("SUPERVISOR exits with the last generation's status 0", supervisor.awaitLine("SUPERVISOR exits", WAIT));
                assertEquals(0, supervisor.awaitExit(WAIT));
            } finally {
                // Should it fail midway, no generation may outlive the test (killing the supervisor would not end them).
                supervisor.process().descendants().forEach(ProcessHandle::destroyForcibly);
            }
        }
    }

    private static long readyPid(JavaChild supervisor, int generation) throws InterruptedException {
        String ready = supervisor.awaitLine("READY pid=", WAIT);
        assertTrue(ready.endsWith(" generation=" + generation), ready);
        return Long.parseLong(ready.replaceAll("READY pid=(\\d+) .*", "$1"));
    }
}
