package dev.handoff.testcontainers;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The Spring sample (Spring Boot on Tomcat with the starter, docker/Dockerfile.spring) in a real Docker
 * engine, restarted under keep-alive load by SIGHUP to its supervisor and by the same command again: no
 * request fails and every connection is kept, answered by each generation in turn. Skipped where no Docker
 * engine runs; CI runs one and fails if this is skipped.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class SpringSampleContainerIT {

    private static final Pattern GENERATION = Pattern.compile("\"generation\":(\\d+)");
    private static final String[] SERVER_COMMAND = {"java", "-jar", "/app/spring/sample-server-spring.jar", "--server.port=8080",
            "--handoff.socket=/run/handoff/spring.sock", "--handoff.pid-file=/run/spring.pid"};

    @BeforeAll
    static void engineAndBaseImage() throws Exception {
        SampleImage.requireEngineAndBaseImage(SpringSampleContainerIT.class.getSimpleName());
    }

    @Test
    void restartsBySignalAndByTheSameCommandAgainKeepEveryKeepAliveConnection() throws Exception {
        try (HandoffContainer app = new HandoffContainer(SampleImage.spring()).withExposedPorts(8080)
                .withServerCommand(SERVER_COMMAND).withPidFile("/run/spring.pid")) {
            app.start();
            ZeroDowntimeProbe probe = ZeroDowntimeProbe.builder()
                    .http(new InetSocketAddress(app.getHost(), app.getMappedPort(8080)), 8, "/", GENERATION)
                    .start();
            HandoffContainerIT.restartBySignalAndExecInTurn(app, probe, 4);
            // The image trained a start-up archive at build time; the supervisor starts every generation it
            // starts (the first, and each SIGHUP's) with it.
            assertEquals(3, app.getLogs().lines().filter(line -> line.equals(
                    "SUPERVISOR starts with the start-up archive /app/spring.archive")).count(), app.getLogs());
        }
    }
}
