package dev.handoff.testcontainers;

import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.StreamType;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.output.OutputFrame;
import org.testcontainers.containers.wait.strategy.AbstractWaitStrategy;
import org.testcontainers.utility.DockerImageName;

import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Future;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * A container whose application hands its sockets over with Handoff: any image (the sample, a Spring Boot
 * app, your own), restarted in each of the ways a deploy happens while clients keep talking to it.
 * <ul>
 *   <li>{@link #restartBySignal()}: a signal to PID 1, for images whose PID 1 is a supervisor that starts
 *       the next generation on SIGHUP (the harness's {@code supervise} command);</li>
 *   <li>{@link #restartByExec()}: the same command again inside the container ({@code docker exec});</li>
 *   <li>a new container of a new image that joins this one's network namespace and socket directory: see
 *       {@link HandoffPod}.</li>
 * </ul>
 * Generations are told apart by the line each prints when it is READY: Handoff's own log line
 * ({@code READY generation N ...}) by default. With {@link #withPidFile} it reads which process serves.
 */
public class HandoffContainer extends GenericContainer<HandoffContainer> {

    /** Handoff's log line when a generation is ready; group 1 is its generation. */
    public static final Pattern HANDOFF_READY = Pattern.compile("READY generation (\\d+)\\b");
    private static final Duration DEFAULT_RESTART_TIMEOUT = Duration.ofSeconds(90);

    private Pattern ready = HANDOFF_READY;
    private GenerationWatch generations;
    private List<String> serverCommand = List.of();
    private Duration restartTimeout = DEFAULT_RESTART_TIMEOUT;
    private String pidFile;
    private final List<Closeable> execOutputs = new CopyOnWriteArrayList<>();

    public HandoffContainer(DockerImageName image) {
        super(image);
        waitForFirstGeneration();
    }

    public HandoffContainer(String image) {
        this(DockerImageName.parse(image));
    }

    /** An image built on the fly, e.g. an {@code ImageFromDockerfile}. */
    public HandoffContainer(Future<String> image) {
        super(image);
        waitForFirstGeneration();
    }

    /** The line each generation prints when it is ready; its group 1 must be the generation number. */
    public HandoffContainer withReadyLine(Pattern ready) {
        this.ready = ready;
        return self();
    }

    /** The server's command as the image runs it (not a supervisor's): what {@link #restartByExec()} runs. */
    public HandoffContainer withServerCommand(String... command) {
        this.serverCommand = List.of(command);
        return self();
    }

    /**
     * Where in the container each generation writes its pid once READY (the sample's {@code --pid-file},
     * the starter's {@code handoff.pid-file}): what {@link #servingPid()} reads.
     */
    public HandoffContainer withPidFile(String pathInContainer) {
        this.pidFile = pathInContainer;
        return self();
    }

    /**
     * The pid (in the container's pid namespace) of the generation that serves, from the pid file; read
     * with Docker's copy, so the image needs no tools.
     */
    public long servingPid() throws IOException {
        if (pidFile == null) {
            throw new IllegalStateException("no pid file to read: give it with withPidFile(...)");
        }
        String pid = copyFileFromContainer(pidFile, in -> new String(in.readAllBytes(), StandardCharsets.US_ASCII));
        try {
            return Long.parseLong(pid.trim());
        } catch (NumberFormatException e) {
            throw new IOException("the pid file " + pidFile + " holds no pid: '" + pid + "'", e);
        }
    }

    /** How long a restart may take until the next generation is READY (default 90 s). */
    public HandoffContainer withRestartTimeout(Duration timeout) {
        this.restartTimeout = timeout;
        return self();
    }

    @Override
    protected void configure() {
        generations = new GenerationWatch(ready);
        withLogConsumer(generations.source());
    }

    /** The newest generation that said it is READY (0 before the first). */
    public int generation() {
        return generations == null ? 0 : generations.newest();
    }

    /** SIGHUP to PID 1; returns once the next generation is READY, with its number. */
    public int restartBySignal() throws InterruptedException, TimeoutException {
        return restartBySignal("HUP");
    }

    /** {@code signal} to PID 1; returns once the next generation is READY, with its number. */
    public int restartBySignal(String signal) throws InterruptedException, TimeoutException {
        int next = generation() + 1;
        getDockerClient().killContainerCmd(getContainerId()).withSignal(signal).exec();
        return awaitGeneration(next);
    }

    /**
     * The server's command ({@link #withServerCommand}) started again inside the container; returns once the
     * generation it starts is READY, with its number. Its output is followed here (container logs show only
     * PID 1's) until it exits or the container stops.
     */
    public int restartByExec() throws InterruptedException, TimeoutException {
        if (serverCommand.isEmpty()) {
            throw new IllegalStateException("no server command to run again: give it with withServerCommand(...)");
        }
        int next = generation() + 1;
        String exec = getDockerClient().execCreateCmd(getContainerId()).withCmd(serverCommand.toArray(new String[0]))
                .withAttachStdout(true).withAttachStderr(true).exec().getId();
        Consumer<OutputFrame> output = generations.source();
        execOutputs.add(getDockerClient().execStartCmd(exec).exec(new ResultCallback.Adapter<Frame>() {
            @Override
            public void onNext(Frame frame) {
                output.accept(new OutputFrame(frame.getStreamType() == StreamType.STDERR ? OutputFrame.OutputType.STDERR
                        : OutputFrame.OutputType.STDOUT, frame.getPayload()));
            }
        }));
        return awaitGeneration(next);
    }

    @Override
    protected void containerIsStopping(InspectContainerResponse containerInfo) {
        for (Closeable output : execOutputs) {
            try {
                output.close();
            } catch (IOException ignored) {
                // the stream ends with the container anyway
            }
        }
        execOutputs.clear();
    }

    /** Waits until generation {@code generation} is READY; returns the newest generation then. */
    public int awaitGeneration(int generation) throws InterruptedException, TimeoutException {
        generations.await(generation, restartTimeout);
        return generation();
    }

    /** Waits for the first READY line: whichever generation the container starts as (a pod's next version is 2, 3...). */
    private void waitForFirstGeneration() {
        waitingFor(new AbstractWaitStrategy() {
            @Override
            protected void waitUntilReady() {
                try {
                    generations.await(1, startupTimeout);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for READY", e);
                } catch (TimeoutException e) {
                    throw new IllegalStateException("the container's application never said READY: " + e.getMessage(), e);
                }
            }
        });
    }
}
