package dev.handoff.testcontainers;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.containers.BindMode;
import org.testcontainers.containers.Container;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The example units of systemd/ under a real systemd: this machine's own, PID 1 of a container
 * (systemd/build-test-image). The sample server starts socket-activated, is reloaded (SIGHUP, systemd
 * following each new main process), and is then taken over by a new version started as a unit of its own
 * (the old unit ending with status 0), which is reloaded in turn; under HTTP and echo load no request fails
 * and every connection is kept, answered by all four generations. Skipped where no Docker engine runs or
 * this machine has no systemd; CI runs one and fails if this is skipped.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class SystemdUnitsIT {

    private static final String IMAGE = "handoff-systemd-it";
    private static final Path SYSTEMD = Path.of("/lib/systemd/systemd");
    private static final Pattern GENERATION = Pattern.compile("\"generation\":(\\d+)");
    private static final Pattern PID = Pattern.compile("^(\\d+) ");
    private static final Duration MOVED = Duration.ofSeconds(60);

    @BeforeAll
    static void engineSystemdAndImage() throws Exception {
        SampleImage.requireEngine(SystemdUnitsIT.class.getSimpleName());
        if (!Files.isExecutable(SYSTEMD)) {
            SampleImage.skip(SystemdUnitsIT.class.getSimpleName() + " skipped: no systemd on this machine (" + SYSTEMD
                    + "): the test image is made of the host's own");
        }
        SampleImage.build(List.of("bash", Path.of("..", "systemd", "build-test-image").toString(), IMAGE,
                Path.of("..", "sample-server", "target", "sample-server.jar").toString()), Duration.ofMinutes(5));
    }

    @Test
    void theExampleUnitsStartReloadAndHandOverToANewUnitWithoutAFailedRequest() throws Exception {
        try (GenericContainer<?> machine = new GenericContainer<>(IMAGE)
                .withFileSystemBind("/sys/fs/cgroup", "/sys/fs/cgroup", BindMode.READ_WRITE)
                // exec: junixsocket loads its native library from the temporary directory
                .withTmpFs(Map.of("/run", "rw,exec", "/run/lock", "rw", "/tmp", "rw,exec"))
                .withExposedPorts(8080, 9090)
                // Before systemd has its bus, systemctl fails at once, --wait or not: wait for the end of boot
                // itself ("degraded" is fine: a host unit may fail in a container). The image has no grep.
                .waitingFor(Wait.forSuccessfulCommand("s=$(systemctl is-system-running --wait 2>/dev/null);"
                                + " [ \"$s\" = running ] || [ \"$s\" = degraded ]")
                        .withStartupTimeout(Duration.ofMinutes(2)))) {
            machine.start();
            systemctl(machine, "start", "handoff-sample.service");
            assertEquals("Serving, generation 1", show(machine, "handoff-sample", "StatusText"));
            ZeroDowntimeProbe probe = ZeroDowntimeProbe.builder()
                    .http(new InetSocketAddress(machine.getHost(), machine.getMappedPort(8080)), 4, "/", GENERATION)
                    .lines(new InetSocketAddress(machine.getHost(), machine.getMappedPort(9090)), 4, PID)
                    .start();
            probe.awaitEveryConnectionAnsweredByAtLeast(1, MOVED);
            String first = show(machine, "handoff-sample", "MainPID");

            systemctl(machine, "reload", "handoff-sample.service");
            probe.awaitEveryConnectionAnsweredByAtLeast(2, MOVED);
            assertEquals("Serving, generation 2", show(machine, "handoff-sample", "StatusText"));
            assertNotEquals(first, show(machine, "handoff-sample", "MainPID"), "systemd follows the new main process");

            systemctl(machine, "start", "handoff-sample-b.service");
            probe.awaitEveryConnectionAnsweredByAtLeast(3, MOVED);
            awaitInactive(machine, "handoff-sample");
            assertEquals("0", show(machine, "handoff-sample", "ExecMainStatus"), "the old unit's last process exits 0");
            assertEquals("success", show(machine, "handoff-sample", "Result"));
            assertEquals("Serving, generation 3", show(machine, "handoff-sample-b", "StatusText"));

            systemctl(machine, "reload", "handoff-sample-b.service");
            probe.awaitEveryConnectionAnsweredByAtLeast(4, MOVED);
            assertEquals("Serving, generation 4", show(machine, "handoff-sample-b", "StatusText"));
            assertEquals("active", show(machine, "handoff-sample-b", "ActiveState"));

            ProbeReport report = probe.stop();
            report.assertNoFailures();
            report.assertEveryConnectionKept();
            report.assertEveryConnectionAnsweredByAtLeast(4);
        }
    }

    private static void systemctl(GenericContainer<?> machine, String... args) throws Exception {
        String[] command = new String[args.length + 1];
        command[0] = "systemctl";
        System.arraycopy(args, 0, command, 1, args.length);
        Container.ExecResult result = machine.execInContainer(command);
        assertEquals(0, result.getExitCode(), () -> String.join(" ", command) + ": " + result.getStdout() + result.getStderr()
                + "\n" + output(machine));
    }

    /** One property of a unit, as {@code systemctl show -p} gives it. */
    private static String show(GenericContainer<?> machine, String unit, String property) throws Exception {
        return machine.execInContainer("systemctl", "show", "-p", property, "--value", unit).getStdout().trim();
    }

    private static void awaitInactive(GenericContainer<?> machine, String unit) throws Exception {
        long deadline = System.nanoTime() + MOVED.toNanos();
        while (!show(machine, unit, "ActiveState").equals("inactive")) {
            assertTrue(System.nanoTime() < deadline, unit + " did not end: " + output(machine));
            Thread.sleep(50);
        }
    }

    /** What the units printed (no journald in the image: each writes to a file). */
    private static String output(GenericContainer<?> machine) {
        try {
            return machine.execInContainer("cat", "/tmp/handoff-sample.log", "/tmp/handoff-sample-b.log").getStdout();
        } catch (Exception e) {
            return "(no output: " + e + ")";
        }
    }
}
