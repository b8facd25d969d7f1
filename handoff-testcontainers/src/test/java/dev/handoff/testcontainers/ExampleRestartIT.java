package dev.handoff.testcontainers;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.images.builder.ImageFromDockerfile;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The README's example, "Test your own app's restarts", as it compiles and runs: the sample server's image
 * stands in for yours.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ExampleRestartIT {

    private static final ImageFromDockerfile IMAGE = SampleImage.image();

    @BeforeAll
    static void engineAndBaseImage() throws Exception {
        SampleImage.requireEngineAndBaseImage(ExampleRestartIT.class.getSimpleName());
    }

    @Test
    void restartsWithoutAFailedRequestOrALostConnection() throws Exception {
        try (HandoffContainer app = new HandoffContainer(IMAGE).withExposedPorts(8080)) {
            app.start();
            ZeroDowntimeProbe probe = ZeroDowntimeProbe.builder()
                    .http(new InetSocketAddress(app.getHost(), app.getMappedPort(8080)), 8)
                    .start();
            for (int restart = 1; restart <= 3; restart++) {
                app.restartBySignal(); // SIGHUP to PID 1, which starts the next generation; returns once it is READY
                probe.awaitMoreExchanges(100, Duration.ofSeconds(30));
            }
            ProbeReport report = probe.stop();
            report.assertNoFailures();
            report.assertEveryConnectionKept();
        }
    }
}
