package dev.handoff.testcontainers;

import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.images.builder.ImageFromDockerfile;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The samples' images (docker/Dockerfile and docker/Dockerfile.spring around the executable jars in
 * sample-server/target and the harness jar) on a base image built here when missing: nothing can be pulled,
 * and a newcomer's engine holds nothing.
 */
final class SampleImage {

    /** A JRE image from the JDK these tests run on; override with -Dhandoff.base-image=... */
    static final String BASE_IMAGE = System.getProperty("handoff.base-image", "handoff-jre:" + Runtime.version().feature());
    static final String[] SERVER_COMMAND = {"java", "-jar", "/app/sample-server.jar", "--http", "0.0.0.0:8080",
            "--echo", "0.0.0.0:9090", "--socket", "/run/handoff/sample.sock", "--pid-file", "/run/sample.pid"};
    private static final Duration BASE_IMAGE_BUILD_TIMEOUT = Duration.ofMinutes(5);

    private SampleImage() {
    }

    /** The plain sample server's image: docker/Dockerfile. */
    static ImageFromDockerfile image() {
        return image("handoff-sample-it", "Dockerfile", "sample-server.jar");
    }

    /** The Spring sample's image: docker/Dockerfile.spring. */
    static ImageFromDockerfile spring() {
        return image("handoff-sample-spring-it", "Dockerfile.spring", "sample-server-spring.jar");
    }

    private static ImageFromDockerfile image(String name, String dockerfile, String jar) {
        if (!Files.isRegularFile(Path.of("..", "sample-server", "target", jar))) {
            throw new IllegalStateException("no sample-server/target/" + jar + " to put in the image: build the project first (mvn verify)");
        }
        return new ImageFromDockerfile(name, false)
                .withFileFromPath("Dockerfile", Path.of("..", "docker", dockerfile))
                .withFileFromPath("sample-server/target/" + jar, Path.of("..", "sample-server", "target", jar))
                .withFileFromPath("handoff-harness/target/handoff-harness.jar", Path.of("..", "handoff-harness", "target", "handoff-harness.jar"))
                .withBuildArg("BASE_IMAGE", BASE_IMAGE);
    }

    /** Aborts the calling test class, with one line on the console, where no Docker engine runs. */
    static void requireEngine(String test) {
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            skip(test + " skipped: no Docker engine runs here (start one, e.g. dockerd; the test builds every image it needs)");
        }
    }

    /** Aborts the calling test class with {@code why}, also on the console (test reports alone hide it). */
    static void skip(String why) {
        System.out.println(why);
        Assumptions.abort(why);
    }

    /**
     * Runs {@code command} (a build script of this repository) within {@code timeout}; fails with its output
     * when it fails.
     */
    static void build(List<String> command, Duration timeout) throws Exception {
        Path output = Files.createTempFile("handoff-build", ".log");
        ProcessBuilder build = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile());
        build.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process process = build.start();
        boolean ended = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (!ended) {
            process.destroyForcibly();
        }
        String log = Files.readString(output);
        Files.delete(output);
        if (!ended || process.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " with JAVA_HOME=" + System.getProperty("java.home")
                    + (ended ? " failed" : " took over " + timeout) + ":\n" + log);
        }
    }

    /**
     * Aborts the calling test class, with one line on the console, where no Docker engine runs; builds the
     * base image (docker/build-base-image: a jlink'd JRE given to docker import) where it is missing.
     */
    static void requireEngineAndBaseImage(String test) throws Exception {
        requireEngine(test);
        try {
            DockerClientFactory.instance().client().inspectImageCmd(BASE_IMAGE).exec();
            return;
        } catch (com.github.dockerjava.api.exception.NotFoundException missing) {
            // built below
        }
        build(List.of("bash", Path.of("..", "docker", "build-base-image").toString(), BASE_IMAGE), BASE_IMAGE_BUILD_TIMEOUT);
    }
}
