package dev.handoff.testcontainers;

import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.images.builder.ImageFromDockerfile;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The sample server's image (docker/Dockerfile around sample-server's executable jar and the harness jar)
 * on a base image built here when missing: nothing can be pulled, and a newcomer's engine holds nothing.
 */
final class SampleImage {

    /** A JRE image from the JDK these tests run on; override with -Dhandoff.base-image=... */
    static final String BASE_IMAGE = System.getProperty("handoff.base-image", "handoff-jre:" + Runtime.version().feature());
    static final String[] SERVER_COMMAND = {"java", "-jar", "/app/sample-server.jar", "--http", "0.0.0.0:8080",
            "--echo", "0.0.0.0:9090", "--socket", "/run/handoff/sample.sock", "--pid-file", "/run/sample.pid"};
    private static final Duration BASE_IMAGE_BUILD_TIMEOUT = Duration.ofMinutes(5);

    private SampleImage() {
    }

    static ImageFromDockerfile image() {
        return new ImageFromDockerfile("handoff-sample-it", false)
                .withFileFromPath("Dockerfile", Path.of("..", "docker", "Dockerfile"))
                .withFileFromPath("sample-server/target/sample-server.jar", Path.of("..", "sample-server", "target", "sample-server.jar"))
                .withFileFromPath("handoff-harness/target/handoff-harness.jar", Path.of("..", "handoff-harness", "target", "handoff-harness.jar"))
                .withBuildArg("BASE_IMAGE", BASE_IMAGE);
    }

    /**
     * Aborts the calling test class, with one line on the console, where no Docker engine runs; builds the
     * base image (docker/build-base-image: a jlink'd JRE given to docker import) where it is missing.
     */
    static void requireEngineAndBaseImage(String test) throws Exception {
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            String why = test + " skipped: no Docker engine runs here (start one, e.g. dockerd; the test builds every image it needs)";
            System.out.println(why);
            Assumptions.abort(why);
        }
        try {
            DockerClientFactory.instance().client().inspectImageCmd(BASE_IMAGE).exec();
            return;
        } catch (com.github.dockerjava.api.exception.NotFoundException missing) {
            // built below
        }
        Path script = Path.of("..", "docker", "build-base-image");
        Path output = Files.createTempFile("build-base-image", ".log");
        ProcessBuilder build = new ProcessBuilder("bash", script.toString(), BASE_IMAGE).redirectErrorStream(true)
                .redirectOutput(output.toFile());
        build.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process process = build.start();
        boolean ended = process.waitFor(BASE_IMAGE_BUILD_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        if (!ended) {
            process.destroyForcibly();
        }
        String log = Files.readString(output);
        Files.delete(output);
        if (!ended || process.exitValue() != 0) {
            throw new IllegalStateException("no image " + BASE_IMAGE + " in this Docker engine, and building it from "
                    + System.getProperty("java.home") + " with " + script + (ended ? " failed" : " took over "
                    + BASE_IMAGE_BUILD_TIMEOUT) + ":\n" + log);
        }
    }
}
