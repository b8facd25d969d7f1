package dev.handoff.testcontainers;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.images.builder.ImageFromDockerfile;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each restart method on a real Docker engine, with the sample server's image under the probe's HTTP and
 * line clients: a signal to PID 1 (the harness's supervisor starts the next generation), the same command
 * again by {@code docker exec}, alternating, and new containers that join a pod ({@link ExampleRestartIT} is
 * the README's signal-only example). Skipped where no Docker engine runs; CI runs one and fails if this is
 * skipped.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class HandoffContainerIT {

    /** The sample's answers: {@code {"pid":N,"generation":G}} over HTTP, {@code <pid> <line>} over its echo port. */
    private static final Pattern GENERATION = Pattern.compile("\"generation\":(\\d+)");
    private static final Pattern PID = Pattern.compile("^(\\d+) ");
    private static final ImageFromDockerfile IMAGE = SampleImage.image();

    @BeforeAll
    static void engineAndBaseImage() throws Exception {
        SampleImage.requireEngineAndBaseImage(HandoffContainerIT.class.getSimpleName());
    }

    @Test
    void restartsBySignalAndByTheSameCommandAgainLoseNoRequestAndNoConnection() throws Exception {
        try (HandoffContainer server = new HandoffContainer(IMAGE).withExposedPorts(8080, 9090)
                .withServerCommand(SampleImage.SERVER_COMMAND).withPidFile("/run/sample.pid")) {
            server.start();
            assertEquals(1, server.generation());
            ZeroDowntimeProbe probe = ZeroDowntimeProbe.builder()
                    .http(new InetSocketAddress(server.getHost(), server.getMappedPort(8080)), 4, "/", GENERATION)
                    .lines(new InetSocketAddress(server.getHost(), server.getMappedPort(9090)), 8, PID)
                    .start();
            restartBySignalAndExecInTurn(server, probe, 5);
            // The image trained a start-up archive at build time; the supervisor starts every generation it
            // starts (the first, and each SIGHUP's) with it.
            assertEquals(3, server.getLogs().lines().filter(line -> line.equals(
                    "SUPERVISOR starts with the start-up archive /app/sample-server.archive")).count(), server.getLogs());
        }
    }

    /**
     * Restarts {@code server} up to generation {@code last}, by SIGHUP and by the same command again in turn,
     * each time until every probed connection has moved to the new generation; then no request may have
     * failed, no connection been lost, and PID 1 (the supervisor) must still run.
     */
    static void restartBySignalAndExecInTurn(HandoffContainer server, ZeroDowntimeProbe probe, int last) throws Exception {
        probe.awaitEveryConnectionAnsweredByAtLeast(1, Duration.ofSeconds(30));
        Set<Long> pids = new HashSet<>(Set.of(server.servingPid()));
        for (int generation = 2; generation <= last; generation++) {
            int now = generation % 2 == 0 ? server.restartBySignal() : server.restartByExec();
            assertEquals(generation, now);
            probe.awaitEveryConnectionAnsweredByAtLeast(generation, Duration.ofSeconds(60));
            assertTrue(pids.add(server.servingPid()), "generation " + generation + " serves as a process of its own");
        }
        ProbeReport report = probe.stop();
        report.assertNoFailures();
        report.assertEveryConnectionKept();
        report.assertEveryConnectionAnsweredByAtLeast(last);
        assertTrue(server.isRunning(), "PID 1 (the supervisor) outlived every generation");
    }

    @Test
    void aRestartThatNeverBecomesReadyTimesOutWithTheNewestGenerationNamed() throws Exception {
        try (HandoffContainer server = new HandoffContainer(IMAGE).withExposedPorts(8080)
                .withServerCommand("java", "-version").withRestartTimeout(Duration.ofSeconds(3))) {
            server.start();
            TimeoutException timeout = assertThrows(TimeoutException.class, server::restartByExec);
            assertTrue(timeout.getMessage().contains("newest READY: generation 1"), timeout.getMessage());
            assertEquals(1, server.generation());
        }
    }

    /**
     * Each version in a container of its own that joins the pod's holder (which owns the published ports)
     * and shares its socket directory: the new one takes over, the old one exits with status 0, and the
     * clients' connections move from container to container.
     */
    @Test
    void newContainersJoiningAPodTakeOverAndTheOldOnesExitCleanly() throws Exception {
        try (HandoffPod pod = new HandoffPod("/run/handoff", 8080, 9090)) {
            pod.deploy(new HandoffContainer(IMAGE));
            ZeroDowntimeProbe probe = ZeroDowntimeProbe.builder()
                    .http(new InetSocketAddress(pod.getHost(), pod.getMappedPort(8080)), 4, "/", GENERATION)
                    .lines(new InetSocketAddress(pod.getHost(), pod.getMappedPort(9090)), 8, null)
                    .start();
            probe.awaitMoreExchanges(100, Duration.ofSeconds(30));
            for (int generation = 2; generation <= 3; generation++) {
                HandoffContainer next = pod.deploy(new HandoffContainer(IMAGE));
                assertEquals(generation, next.generation());
                probe.awaitEveryConnectionAnsweredByAtLeast(generation, Duration.ofSeconds(30));
            }
            ProbeReport report = probe.stop();
            report.assertNoFailures();
            report.assertEveryConnectionKept();
            // (Pids are no proof across containers: each has its own pid namespace. Generations are.)
            assertEquals(3, pod.versions().size());
            report.answeredBy().forEach((connection, generations) -> {
                if (connection.startsWith("http")) {
                    assertEquals(List.of("1", "2", "3"), generations, connection);
                }
            });
            report.assertEveryConnectionAnsweredByAtLeast(3);
        }
    }
}
