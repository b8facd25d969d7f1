package dev.handoff.sample;

import com.github.dockerjava.api.DockerClient;
import dev.handoff.harness.load.HttpClients;
import dev.handoff.harness.load.LineClients;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.ImageFromDockerfile;

import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sample server's image (docker/Dockerfile on a locally built base, no registry) in a real Docker
 * engine: restarted inside its container, by SIGHUP to the container (the harness's supervisor, PID 1,
 * starts the next generation) and by `docker exec` of the same command, under HTTP and echo load from this
 * JVM to the mapped ports. Skipped where no Docker engine runs; CI runs one and fails if this is skipped.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class DockerRestartIT {

    /** A JRE image from the JDK this test runs on; override with -Dhandoff.base-image=... */
    private static final String BASE_IMAGE = System.getProperty("handoff.base-image",
            "handoff-jre:" + Runtime.version().feature());
    private static final Duration BASE_IMAGE_BUILD_TIMEOUT = Duration.ofMinutes(5);
    private static final Pattern IDENTITY = Pattern.compile("\"pid\":(\\d+),\"generation\":(\\d+)");
    private static final List<String> SERVER_ARGS = List.of("java", "-jar", "/app/sample-server.jar", "--http", "0.0.0.0:8080",
            "--echo", "0.0.0.0:9090", "--socket", "/run/handoff/sample.sock", "--pid-file", "/run/sample.pid");

    private static final ImageFromDockerfile IMAGE = new ImageFromDockerfile("handoff-sample-it", false)
            .withFileFromPath("Dockerfile", Path.of("..", "docker", "Dockerfile"))
            .withFileFromPath("sample-server/target/sample-server.jar", Path.of("target", "sample-server.jar"))
            .withFileFromPath("handoff-harness/target/handoff-harness.jar", harnessJar())
            .withBuildArg("BASE_IMAGE", BASE_IMAGE);

    /**
     * Nothing can be pulled here, so a missing base image is built from the JDK this test runs on
     * (docker/build-base-image: a jlink'd JRE given to docker import), as a newcomer's machine needs.
     */
    @BeforeAll
    static void baseImageIsThere() throws Exception {
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            String why = "DockerRestartIT skipped: no Docker engine runs here (start one, e.g. dockerd; the test "
                    + "builds every image it needs)";
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

    /** The harness jar this test runs with (the reactor's build, or the installed one): the image's PID 1. */
    private static Path harnessJar() {
        try {
            Path jar = Path.of(HttpClients.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (!Files.isRegularFile(jar)) {
                throw new IllegalStateException("the harness is on the class path as " + jar + ", not as its jar: run mvn verify");
            }
            return jar;
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void restartsInsideTheContainerBySighupAndByExecLoseNothing() throws Exception {
        try (GenericContainer<?> server = new GenericContainer<>(IMAGE).withExposedPorts(8080, 9090)
                .waitingFor(Wait.forLogMessage(".*READY pid=\\d+ generation=1.*", 1))) {
            server.start();
            restartInside(server);
        }
    }

    private static void restartInside(GenericContainer<?> server) throws Exception {
        InetSocketAddress http = new InetSocketAddress(server.getHost(), server.getMappedPort(8080));
        InetSocketAddress echo = new InetSocketAddress(server.getHost(), server.getMappedPort(9090));
        long[] first = identity(http);
        assertEquals(1, first[1]);
        HttpClients load = HttpClients.start(http, 4, Duration.ofMillis(1));
        LineClients fleet = LineClients.open(echo, 8, Duration.ofMillis(20));
        DockerClient docker = server.getDockerClient();
        try {
            for (int generation = 2; generation <= 5; generation++) {
                if (generation % 2 == 0) {
                    docker.killContainerCmd(server.getContainerId()).withSignal("HUP").exec();
                } else {
                    String exec = docker.execCreateCmd(server.getContainerId()).withCmd(SERVER_ARGS.toArray(new String[0])).exec().getId();
                    docker.execStartCmd(exec).withDetach(true).start().awaitCompletion();
                }
                awaitGeneration(http, generation);
                Thread.sleep(300);
            }
        } finally {
            load.close();
            fleet.close();
        }
        assertEquals(0, load.failures(), () -> "failed requests: " + load.failureSamples());
        assertTrue(load.requests() > 100, "the load ran: " + load.requests());
        assertEquals(List.of(), fleet.losses());
        assertEquals(8, fleet.alive());
        assertEquals(5, fleet.fewestPidsSeen(), "each echo connection was answered by all five generations");
        long[] last = identity(http);
        assertEquals(5, last[1]);
        assertTrue(last[0] != first[0], "the pid changed");
        assertTrue(server.isRunning(), "PID 1 (the supervisor) outlived every generation");
    }

    /**
     * Each version in its own container, joining the network namespace of a holder container that owns
     * the published ports (a pod's pause container, in Kubernetes terms), with the rendezvous socket on a
     * shared volume: the new container takes over, the old container exits with status 0.
     */
    @Test
    void restartsAcrossContainersThatJoinAHolderLoseNothing() throws Exception {
        Path shared = Files.createTempDirectory("handoff-shared");
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwx------"));
        List<GenericContainer<?>> versions = new ArrayList<>();
        try (GenericContainer<?> holder = new GenericContainer<>(IMAGE)
                .withCreateContainerCmdModifier(command -> command.withEntrypoint("java", "-jar", "/app/handoff-harness.jar", "hold"))
                .withExposedPorts(8080, 9090)
                .waitingFor(Wait.forLogMessage(".*HOLDING.*", 1))) {
            holder.start();
            InetSocketAddress http = new InetSocketAddress(holder.getHost(), holder.getMappedPort(8080));
            InetSocketAddress echo = new InetSocketAddress(holder.getHost(), holder.getMappedPort(9090));
            versions.add(version(holder, shared, 1));
            HttpClients load = HttpClients.start(http, 4, Duration.ofMillis(1));
            LineClients fleet = LineClients.open(echo, 8, Duration.ofMillis(20));
            try {
                for (int generation = 2; generation <= 3; generation++) {
                    GenericContainer<?> old = versions.get(versions.size() - 1);
                    versions.add(version(holder, shared, generation));
                    long deadline = System.nanoTime() + 60_000_000_000L;
                    while (old.isRunning()) {
                        assertTrue(System.nanoTime() < deadline, "the old container did not exit");
                        Thread.sleep(100);
                    }
                    long exitCode = old.getDockerClient().inspectContainerCmd(old.getContainerId()).exec().getState().getExitCodeLong();
                    assertEquals(0, exitCode, "the old container exits with status 0");
                    awaitGeneration(http, generation);
                }
            } finally {
                load.close();
                fleet.close();
            }
            assertEquals(0, load.failures(), () -> "failed requests: " + load.failureSamples());
            assertTrue(load.requests() > 100, "the load ran: " + load.requests());
            assertEquals(List.of(), fleet.losses());
            // (Pids are no proof here: each container has its own pid namespace, so they may repeat.)
            assertEquals(3, identity(http)[1], "the third container's server answers");
        } finally {
            versions.forEach(GenericContainer::stop);
        }
    }

    private static GenericContainer<?> version(GenericContainer<?> holder, Path shared, int generation) {
        GenericContainer<?> version = new GenericContainer<>(IMAGE)
                .withLogConsumer(frame -> System.out.print("[generation " + generation + "] " + frame.getUtf8String()))
                .withNetworkMode("container:" + holder.getContainerId())
                .withFileSystemBind(shared.toString(), "/run/handoff")
                .waitingFor(Wait.forLogMessage(".*READY pid=\\d+ generation=" + generation + "\\b.*", 1));
        version.start();
        return version;
    }

    /** Waits until a new connection is answered by {@code generation}, i.e. the old one stopped accepting. */
    private static void awaitGeneration(InetSocketAddress http, int generation) throws Exception {
        long deadline = System.nanoTime() + 90_000_000_000L;
        while (identity(http)[1] != generation) {
            assertTrue(System.nanoTime() < deadline, "generation " + generation + " never served");
            Thread.sleep(100);
        }
    }

    /** {pid, generation} from GET / on a new connection. */
    private static long[] identity(InetSocketAddress http) throws Exception {
        try (Socket socket = new Socket()) {
            socket.connect(http, 5000);
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            Matcher matcher = IDENTITY.matcher(response);
            assertTrue(matcher.find(), response);
            return new long[] {Long.parseLong(matcher.group(1)), Long.parseLong(matcher.group(2))};
        }
    }
}
