package dev.handoff.testcontainers;

import dev.handoff.harness.Main;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.MountableFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Deploys by new containers: each version of the application runs in a container of its own that joins the
 * network namespace of a holder container (which owns the published ports, as a pod's pause container does)
 * and shares a host directory for the rendezvous socket. {@link #deploy} starts the next version, waits
 * until it is READY (it took over from the one before) and until the old container has exited with status
 * 0. The holder runs the first version's image with a {@code java} of its own and the harness jar copied in.
 */
public final class HandoffPod implements AutoCloseable {

    private static final String HARNESS_IN_CONTAINER = "/handoff-pod/handoff-harness.jar";
    private static final Duration OLD_VERSION_EXIT_TIMEOUT = Duration.ofSeconds(60);

    private final String socketDirectory;
    private final int[] ports;
    private final List<HandoffContainer> versions = new ArrayList<>();
    private GenericContainer<?> holder;
    private Path shared;

    /**
     * A pod that publishes {@code ports}, whose versions find each other's rendezvous socket in
     * {@code socketDirectory} (the directory of the application's socket path, e.g. {@code /run/handoff}).
     */
    public HandoffPod(String socketDirectory, int... ports) {
        this.socketDirectory = socketDirectory;
        this.ports = ports.clone();
    }

    /**
     * Starts {@code version} in the pod (the holder first, on the first call); from the second call on, waits
     * until the version before has exited with status 0. Returns {@code version}, started.
     *
     * @throws IllegalStateException the old version did not exit, or exited with another status
     */
    public HandoffContainer deploy(HandoffContainer version) throws InterruptedException {
        if (holder == null) {
            startHolder(version.getDockerImageName());
        }
        version.withNetworkMode("container:" + holder.getContainerId())
                .withFileSystemBind(shared.toString(), socketDirectory);
        HandoffContainer old = versions.isEmpty() ? null : versions.get(versions.size() - 1);
        version.start();
        versions.add(version);
        if (old != null) {
            awaitExit(old);
        }
        return version;
    }

    public String getHost() {
        return holder().getHost();
    }

    /** The host port that {@code port} in the pod is published on. */
    public int getMappedPort(int port) {
        return holder().getMappedPort(port);
    }

    /** Every version deployed so far, oldest first. */
    public List<HandoffContainer> versions() {
        return List.copyOf(versions);
    }

    /** Stops every version and the holder. */
    @Override
    public void close() {
        versions.forEach(HandoffContainer::stop);
        if (holder != null) {
            holder.stop();
        }
        if (shared != null) {
            try (Stream<Path> files = Files.walk(shared)) {
                files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            } catch (IOException e) {
                // a temporary directory left behind
            }
        }
    }

    private GenericContainer<?> holder() {
        if (holder == null) {
            throw new IllegalStateException("the pod has not started: deploy(...) its first version");
        }
        return holder;
    }

    private void startHolder(String image) {
        try {
            shared = Files.createTempDirectory("handoff-pod");
            // A rendezvous directory must be private to its user (Handoff refuses a group- or world-writable one).
            Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwx------"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        GenericContainer<?> container = new GenericContainer<>(image)
                .withCopyFileToContainer(MountableFile.forHostPath(harnessJar()), HARNESS_IN_CONTAINER)
                .withCreateContainerCmdModifier(command -> command.withEntrypoint("java", "-jar", HARNESS_IN_CONTAINER, "hold")
                        .withCmd(List.of()))
                .waitingFor(Wait.forLogMessage(".*HOLDING.*", 1));
        for (int port : ports) {
            container.addExposedPort(port);
        }
        container.start();
        holder = container;
    }

    private static void awaitExit(HandoffContainer old) throws InterruptedException {
        long deadline = System.nanoTime() + OLD_VERSION_EXIT_TIMEOUT.toNanos();
        while (old.isRunning()) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("the old version (" + old.getContainerId() + ") still runs "
                        + OLD_VERSION_EXIT_TIMEOUT + " after its successor was READY");
            }
            Thread.sleep(50);
        }
        Long status = old.getDockerClient().inspectContainerCmd(old.getContainerId()).exec().getState().getExitCodeLong();
        if (status == null || status != 0) {
            throw new IllegalStateException("the old version (" + old.getContainerId() + ") exited with status " + status
                    + ", not 0");
        }
    }

    /** The harness jar on this class path, copied into the holder. */
    private static Path harnessJar() {
        try {
            Path jar = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (!Files.isRegularFile(jar)) {
                throw new IllegalStateException("the Handoff harness is on the class path as " + jar
                        + ", not as its jar; the pod's holder needs the jar (in this project's build: mvn verify)");
            }
            return jar;
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
