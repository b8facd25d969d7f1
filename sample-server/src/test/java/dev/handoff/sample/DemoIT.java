package dev.handoff.sample;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.harness.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The README's demo (the harness's {@code demo} command, in a JVM of its own) against the jar this build
 * made: two restarts, one deploy-style and one by SIGHUP, under its full load, and the summary it prints.
 */
class DemoIT {

    private static final Duration WAIT = Duration.ofMinutes(2);

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void twoRestartsLoseNothingAndTheSummarySaysSo() throws Exception {
        String jar = Path.of("target", "sample-server.jar").toString();
        try (JavaChild demo = JavaChild.start(Main.class, "demo", "2", "--server-jar", jar)) {
            try {
                assertEquals("restarts:                 2 of 2", demo.awaitLine("restarts:", WAIT));
                assertEquals("failed requests:          0", demo.awaitLine("failed requests:", WAIT));
                assertEquals("connection resets:        0", demo.awaitLine("connection resets:", WAIT));
                assertEquals("echo connections alive:   16 of 16",
                        demo.awaitLine("echo connections alive:", WAIT).replaceAll(" \\(.*", ""));
                assertEquals("RESULT: zero downtime", demo.awaitLine("RESULT:", WAIT));
                assertEquals(0, demo.awaitExit(WAIT), "the demo's exit status");
            } finally {
                // The demo stops its servers when it ends; killed midway, it would leave them running.
                demo.process().descendants().forEach(ProcessHandle::destroyForcibly);
            }
        }
    }
}
