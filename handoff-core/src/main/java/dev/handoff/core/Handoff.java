package dev.handoff.core;

import com.fasterxml.jackson.databind.JsonNode;
import dev.handoff.core.fd.Lifeline;
import dev.handoff.core.internal.JdkInternals;
import dev.handoff.core.service.PidFile;
import dev.handoff.core.service.StartupPriority;
import dev.handoff.core.service.SystemdNotifier;
import dev.handoff.core.service.SystemdSockets;
import dev.handoff.core.session.SessionConfig;
import dev.handoff.core.session.SuccessorSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The entry point. A server calls, in order:
 * <ol>
 *   <li>{@link #start(HandoffOptions)}: finds the incumbent through the rendezvous socket and receives its
 *       descriptors, or finds nobody (a cold start);</li>
 *   <li>{@link #listen(String, InetSocketAddress)} for each listener: the inherited socket when there is
 *       one, a freshly bound one otherwise; {@link #onConnection(Consumer)} to adopt the predecessor's
 *       established connections;</li>
 *   <li>{@link #ready()} once it serves: unclaimed inherited descriptors are closed, the predecessor is
 *       told READY, and this process now accepts successors itself;</li>
 *   <li>{@link #onExit(Consumer)} (or {@link #awaitExit()}): a successor has taken over; the {@link Takeover}
 *       handle drains this process (hand connections over, resume if the successor vanished, done).</li>
 * </ol>
 * {@link #upgrade()} starts a successor with the configured command and reports how the handoff went.
 *
 * <p>This class is a front: what it does is done by its parts, each the owner of its own threads and
 * locks: the {@code ListenerRegistry} (listeners, shared files, socket activation), the
 * {@code PredecessorLink} (READY, connections arriving), the {@code Rendezvous} (successors arriving,
 * one session at a time), the {@code UpgradeRunner}, and {@code HandoffEvents} (results and callbacks).
 */
public final class Handoff implements Closeable {

    private static final Logger log = LoggerFactory.getLogger(Handoff.class);

    private final HandoffOptions options;
    private final HandoffMetrics metrics;
    private final PredecessorLink predecessor; // null after a cold start
    private final String coldStartReason; // null after a handoff
    private final int generation;
    private final ListenerRegistry listeners;
    private final HandoffEvents events;
    private final Rendezvous rendezvous;
    private final UpgradeRunner upgrades;
    private final Lifeline lifeline;
    private final AtomicBoolean ready = new AtomicBoolean();
    private final ConnectionHandlers connectionHandlers = new ConnectionHandlers();

    private Handoff(HandoffOptions options, SessionConfig config, HandoffMetrics metrics, PredecessorLink predecessor,
                    String coldStartReason) {
        this.options = options;
        this.metrics = metrics;
        this.predecessor = predecessor;
        this.coldStartReason = coldStartReason;
        this.generation = predecessor == null ? 1 : predecessor.generation() + 1;
        this.listeners = predecessor == null
                ? new ListenerRegistry(null, SystemdSockets.fromEnvironment(), options.backlog())
                : new ListenerRegistry(predecessor.inheritance(), Map.of(), options.backlog());
        this.events = new HandoffEvents(metrics);
        this.rendezvous = new Rendezvous(options, config, generation, listeners, predecessor, events, this);
        this.upgrades = new UpgradeRunner(options, events, metrics, rendezvous::isSessionActive);
        this.lifeline = config.lifeline();
        metrics.generation(this);
    }

    /**
     * Connects to the incumbent at the configured socket path and receives its descriptors, or starts
     * cold when nobody listens there (or the incumbent died before it handed anything over).
     *
     * @throws HandoffRejectedException an incumbent is there but is busy or refused this process: starting
     *                                  cold would collide with it
     * @throws IOException              an incumbent is there but the handoff failed
     * @throws JvmAccessException          the JVM does not give access to the JDK internals (the message names
     *                                      the flags to add)
     * @throws RendezvousPathException     the socket path is too long for a Unix socket address; or no
     *                                      incumbent is there and the socket's directory belongs to someone
     *                                      else or others may enter it
     */
    public static Handoff start(HandoffOptions options) throws IOException {
        RuntimeException refused = JdkInternals.unavailable();
        if (refused != null) {
            throw new JvmAccessException(refused.getMessage(), JdkInternals.REQUIRED_FLAGS, refused.getCause());
        }
        Rendezvous.checkLength(options.socketPath()); // else a successor would take over, then fail to bind at READY
        // A socket file there most likely means an incumbent that serves: this start-up should not compete
        // with it for the cores (HandoffOptions#startupNice). A cold start serves at once, at its usual priority.
        StartupPriority.lowerForTakeover(options.socketPath(), options.startupNice());
        WarmUp.run(options.sharedSecret(), options.limits());
        Lifeline lifeline = Lifeline.create();
        try {
            SessionConfig config = new SessionConfig(options.stepTimeout(), options.readyTimeout(), options.probation(),
                    options.drainTimeout(), options.allowedPeerUids(), options.limits(), options.sharedSecret(), lifeline);
            HandoffMetrics metrics = HandoffMetrics.of(options);
            SuccessorSession.Attempt attempt = BusyWait.connect(options, config);
            switch (attempt.state()) {
                case INHERITED -> {
                    PredecessorLink predecessor = new PredecessorLink(attempt.session(), metrics);
                    log.info("inherited {} from pid {} (generation {})", predecessor.inheritance().unclaimedNames(),
                            predecessor.pid(), predecessor.generation());
                    return new Handoff(options, config, metrics, predecessor, null);
                }
                case COLD -> {
                    // Now rather than at READY, after the application has begun to serve: the directory the
                    // rendezvous will be bound in. (A successor's is checked where it binds, at READY: failing
                    // here, before its handshake, would hide what its incumbent says of it.)
                    Rendezvous.checkDirectory(options.socketPath()); // its length was checked above
                    log.info("cold start: {}", attempt.reason());
                    StartupPriority.restore();
                    return new Handoff(options, config, metrics, null, attempt.reason());
                }
                case BUSY -> throw new HandoffRejectedException(HandoffResult.Outcome.BUSY, attempt.reason(), attempt.cause());
                case REFUSED -> throw new HandoffRejectedException(HandoffResult.Outcome.REFUSED, attempt.reason(), attempt.cause());
                default -> {
                    log.warn("{}", attempt.reason());
                    throw attempt.cause() != null ? attempt.cause() : new IOException(attempt.reason());
                }
            }
        } catch (IOException | RuntimeException e) {
            StartupPriority.restore();
            lifeline.close();
            throw e;
        }
    }

    public HandoffOptions options() {
        return options;
    }

    HandoffMetrics metrics() {
        return metrics;
    }

    /** 1 for a cold start, the predecessor's generation + 1 after a handoff. */
    public int generation() {
        return generation;
    }

    /** Whether this process received descriptors from a predecessor. */
    public boolean isInherited() {
        return predecessor != null;
    }

    /**
     * Why this process started cold: nobody at the rendezvous socket, or an incumbent that died before it
     * handed anything over. Empty when it inherited.
     */
    public Optional<String> coldStartReason() {
        return Optional.ofNullable(coldStartReason);
    }

    /**
     * A listening TCP socket named {@code name}: the predecessor's when it handed one over under this
     * name and bound to {@code address} (port 0 matches any port), on a cold start the one systemd passed
     * under this name (socket activation), else a new one bound to {@code address}.
     */
    public ServerSocketChannel listen(String name, InetSocketAddress address) throws IOException {
        return listeners.listen(name, address);
    }

    /** Like {@link #listen(String, InetSocketAddress)}, for a UDP socket. */
    public DatagramChannel listenDatagram(String name, InetSocketAddress address) throws IOException {
        return listeners.listenDatagram(name, address);
    }

    /** The listeners this process serves, by name, with the address each is bound to. */
    public Map<String, InetSocketAddress> listenerAddresses() {
        return listeners.addresses();
    }

    /** Claims a descriptor the predecessor shared under {@code name}; the caller owns it from now on. */
    public Optional<FileDescriptor> inheritedFile(String name) {
        return listeners.inheritedFile(name);
    }

    /** Hands {@code fd} to the successor under {@code name}, along with the listeners. It stays open here. */
    public void shareFile(String name, FileDescriptor fd) {
        listeners.shareFile(name, fd);
    }

    /** The application state the predecessor supplied, if any. */
    public Optional<JsonNode> inheritedState() {
        return listeners.inheritedState();
    }

    /** Supplies the application state sent with each handoff (called at the moment of the handoff). */
    public void stateProvider(Supplier<? extends JsonNode> provider) {
        listeners.stateProvider(provider);
    }

    /**
     * Adopts the connections the predecessor hands over: {@code handler} gets each one (on a handoff
     * thread) as a blocking-mode channel this process now owns, with its attachment and unread bytes.
     * Register it before {@link #ready()}: READY tells the predecessor whether to send connections at all.
     * A handler registered for a listener by name takes that listener's connections instead.
     */
    public void onConnection(Consumer<Connection> handler) {
        checkNotReady();
        connectionHandlers.addForAll(handler);
    }

    /**
     * Adopts the connections the predecessor accepted on the listener {@code listener}: each server in the
     * application takes its own. Connections of a listener that has no handler (and no handler for all)
     * are refused and stay with the predecessor until they end. Register before {@link #ready()}.
     */
    public void onConnection(String listener, Consumer<Connection> handler) {
        checkNotReady();
        connectionHandlers.add(listener, handler);
    }

    private void checkNotReady() {
        if (ready.get()) {
            throw new IllegalStateException("register connection handlers before ready()");
        }
    }

    /**
     * This process serves: closes inherited descriptors nobody claimed, takes over the rendezvous socket,
     * tells the predecessor READY and waits for it to confirm, and starts accepting successors.
     *
     * @throws HandoffRejectedException the predecessor is there and did not confirm READY: it gave up
     *                                  waiting (its {@code readyTimeout} passed) and serves on. This process
     *                                  must not serve: every listener handed out is closed here (a thread
     *                                  accepting on one wakes with an exception), and it should exit
     */
    public void ready() throws IOException {
        if (!ready.compareAndSet(false, true)) {
            throw new IllegalStateException("ready() was already called");
        }
        // It serves from here on. Its priority is restored beside the steps below (before JDK 22 by the renice
        // command, which takes longer than they do), and is back when this returns.
        Thread restoring = StartupPriority.restoreInBackground();
        try {
            announceReady();
        } finally {
            awaitUninterruptibly(restoring);
        }
    }

    private void announceReady() throws IOException {
        listeners.closeUnclaimed();
        rendezvous.bind();
        if (predecessor != null) {
            try {
                predecessor.ready(connectionHandlers, generation, this::writePidFile);
            } catch (HandoffRejectedException e) {
                listeners.closeAll();
                close();
                throw e;
            }
        } else {
            writePidFile();
            log.info("READY generation {} (cold start)", generation);
        }
        notifySystemd();
        rendezvous.accept();
    }

    /**
     * Once this process serves and before its READY line: whoever waits for that line (a supervisor, a
     * container test) then finds this process's pid in the file, not its predecessor's or none.
     */
    private void writePidFile() {
        if (options.pidFile() != null) {
            try {
                PidFile.write(options.pidFile());
            } catch (IOException e) {
                // It serves: failing now would leave a process that serves and can never be succeeded.
                log.error("could not write the pid file {}; serving without it", options.pidFile(), e);
            }
        }
    }

    private static void awaitUninterruptibly(Thread thread) {
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Under a {@code Type=notify} unit: READY, and this process as the unit's main process from now on. */
    private void notifySystemd() {
        try {
            SystemdNotifier.fromEnvironment().notify("READY=1\nMAINPID=" + ProcessHandle.current().pid()
                    + "\nSTATUS=Serving, generation " + generation + "\n");
        } catch (IOException e) {
            log.warn("could not notify systemd (NOTIFY_SOCKET={}): {}", System.getenv("NOTIFY_SOCKET"), e.getMessage());
        }
    }

    /** Blocks until a successor has taken over; returns the handle to drain with. */
    public Takeover awaitExit() throws InterruptedException {
        return events.awaitTakeover();
    }

    /** Blocks until a successor has taken over or {@code timeout} passes. */
    public Optional<Takeover> awaitExit(Duration timeout) throws InterruptedException {
        return events.awaitTakeover(timeout);
    }

    /**
     * Calls {@code callback} (on a handoff thread) when a successor has taken over, with the handle to drain
     * with; at once if one already has. Each callback runs once per takeover; one that throws does not keep
     * the others from running.
     */
    public void onExit(Consumer<Takeover> callback) {
        events.onExit(callback);
    }

    /** Calls {@code callback} (on a handoff thread) after every handoff attempt, whatever its outcome. */
    public void onHandoff(Consumer<HandoffResult> callback) {
        events.onHandoff(callback);
    }

    /** Whether the predecessor (if any) finished handing connections over within {@code timeout}. */
    boolean predecessorFinished(Duration timeout) {
        return predecessor == null || predecessor.awaitFinished(timeout);
    }

    /** Established connections this process adopted from its predecessor (see {@link #onConnection}). */
    public int connectionsAdopted() {
        return predecessor == null ? 0 : predecessor.connectionsAdopted();
    }

    /** The most recent handoff this process took part in as the incumbent. */
    public Optional<HandoffResult> lastHandoff() {
        return events.last();
    }

    /**
     * Starts the configured upgrade command and waits until its process has taken over (or failed to).
     * Whatever happens, this process keeps serving unless the result says SUCCEEDED.
     */
    public HandoffResult upgrade() throws IOException, InterruptedException {
        if (options.upgradeCommand().isEmpty()) {
            throw new IllegalStateException("no upgrade command configured (HandoffOptions.upgradeCommand)");
        }
        if (!ready.get()) {
            throw new IllegalStateException("call ready() before upgrade()");
        }
        return upgrades.upgrade(options.upgradeCommand());
    }

    /**
     * Stops accepting successors and releases the rendezvous socket; tells a successor that took over that
     * this process is done. The application's own channels are the application's to close.
     */
    @Override
    public void close() throws IOException {
        StartupPriority.restore();
        rendezvous.close();
        if (predecessor != null) {
            predecessor.close();
        }
        lifeline.close();
    }
}
