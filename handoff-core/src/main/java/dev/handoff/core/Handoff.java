package dev.handoff.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.handoff.core.channel.Channels;
import dev.handoff.core.fd.FdDescription;
import dev.handoff.core.fd.FdInspector;
import dev.handoff.core.fd.FdType;
import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdServer;
import dev.handoff.core.fd.Fds;
import dev.handoff.core.fd.SystemdNotifier;
import dev.handoff.core.fd.SystemdSockets;
import dev.handoff.core.internal.JdkInternals;
import dev.handoff.core.manifest.ConnectionEntry;
import dev.handoff.core.manifest.FileEntry;
import dev.handoff.core.manifest.ListenerEntry;
import dev.handoff.core.manifest.Manifest;
import dev.handoff.core.manifest.ManifestJson;
import dev.handoff.core.manifest.ManifestValidator;
import dev.handoff.core.session.ConnectionTransfer;
import dev.handoff.core.session.HandoffResult;
import dev.handoff.core.session.IncumbentSession;
import dev.handoff.core.session.Inheritance;
import dev.handoff.core.session.SessionConfig;
import dev.handoff.core.session.SharedSecret;
import dev.handoff.core.session.Snapshot;
import dev.handoff.core.session.SuccessorSession;
import dev.handoff.core.wire.WireChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketOption;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.NetworkChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The entry point. A server calls, in order:
 * <ol>
 *   <li>{@link #start(HandoffOptions)}: finds the incumbent through the rendezvous socket and receives its
 *       descriptors, or finds nobody (a cold start);</li>
 *   <li>{@link #listen(String, InetSocketAddress)} for each listener: the inherited socket when there is
 *       one, a freshly bound one otherwise;</li>
 *   <li>{@link #ready()} once it serves: unclaimed inherited descriptors are closed, the predecessor is
 *       told READY, and this process now accepts successors itself;</li>
 *   <li>{@link #awaitExit()} (or {@link #onExit(Consumer)}): returns when a successor has taken over; the
 *       server then stops accepting, finishes in-flight requests, {@linkplain #handOver(Collection) hands
 *       its established connections over} between requests, and exits.</li>
 * </ol>
 * A successor that registers {@link #onConnection(Consumer)} before {@code ready()} adopts those
 * connections; one that does not gets none, and its predecessor closes them itself.
 * {@link #upgrade()} starts a successor with the configured command and reports how the handoff went.
 */
public final class Handoff implements Closeable {

    private static final Logger log = LoggerFactory.getLogger(Handoff.class);
    private static final int WARM_UP_ROUNDS = 500;
    private static final int REFLECTION_INFLATION = 15;
    private static final Duration RENDEZVOUS_CHECK = Duration.ofSeconds(1);

    private final HandoffOptions options;
    private final SessionConfig config;
    private final SuccessorSession predecessor;
    private final String coldStartReason;
    private final CountDownLatch predecessorDone = new CountDownLatch(1);
    private final int generation;
    private final HandoffMetrics metrics;
    private final Map<String, NetworkChannel> listeners = new LinkedHashMap<>();
    private final Map<String, FileDescriptor> files = new LinkedHashMap<>();
    private volatile CountDownLatch exit = new CountDownLatch(1);
    private final Map<String, FileDescriptor> systemdSockets;
    private final List<Consumer<HandoffResult>> exitCallbacks = new CopyOnWriteArrayList<>();
    private final List<Consumer<HandoffResult>> handoffCallbacks = new CopyOnWriteArrayList<>();
    private final List<HandoffResult> results = new ArrayList<>();
    private final AtomicBoolean sessionActive = new AtomicBoolean();
    private volatile Supplier<? extends JsonNode> stateProvider = () -> null;
    private volatile FdServer rendezvous;
    private volatile IncumbentSession successor;
    private volatile Consumer<Connection> connectionHandler;
    private volatile boolean receivingConnections;
    private volatile boolean ready;
    private volatile boolean closed;
    private Thread acceptor;

    private Handoff(HandoffOptions options, SessionConfig config, HandoffMetrics metrics, SuccessorSession predecessor,
                    String coldStartReason) {
        this.options = options;
        this.coldStartReason = coldStartReason;
        this.config = config;
        this.predecessor = predecessor;
        this.generation = predecessor == null ? 1 : predecessor.incumbentGeneration() + 1;
        this.metrics = metrics;
        this.systemdSockets = predecessor == null ? SystemdSockets.fromEnvironment() : new LinkedHashMap<>();
        metrics.bindGeneration(this);
    }

    /**
     * Connects to the incumbent at the configured socket path and receives its descriptors, or starts
     * cold when nobody listens there. Throws when an incumbent is there but will not or cannot hand over
     * (busy with another successor, refused, a bad manifest): starting cold would collide with it.
     */
    public static Handoff start(HandoffOptions options) throws IOException {
        JdkInternals.checkAvailable();
        FdChannel.warmUp();
        WireChannel.warmUp();
        ManifestJson.warmUp();
        warmUpConnectionPath();
        SharedSecret.warmUp(options.sharedSecret().orElse(null));
        SessionConfig config = new SessionConfig(options.stepTimeout(), options.readyTimeout(), options.probation(),
                options.allowedPeerUids(), options.limits(), options.sharedSecret().orElse(null));
        HandoffMetrics metrics = new HandoffMetrics(options.meterRegistry());
        SuccessorSession.Attempt attempt = SuccessorSession.connect(options.socketPath(), config);
        SuccessorSession predecessor = attempt.session();
        Handoff handoff = new Handoff(options, config, metrics, predecessor, attempt.coldStartReason());
        if (predecessor != null) {
            log.info("inherited {} from pid {} (generation {})", predecessor.inheritance().unclaimedNames(),
                    predecessor.incumbentPid(), predecessor.incumbentGeneration());
        } else {
            log.info("cold start: {}", attempt.coldStartReason());
        }
        return handoff;
    }

    public HandoffOptions options() {
        return options;
    }

    /**
     * Runs both halves of a connection hand-over once on a loopback connection of our own: the first
     * real one happens exactly once per process, so without this it would run on cold code (class
     * loading, reflection set-up, codec introspection) while every connection in the batch waits.
     */
    private static void warmUpConnectionPath() throws IOException {
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             SocketChannel client = SocketChannel.open(server.getLocalAddress());
             SocketChannel accepted = server.accept()) {
            Connection connection = new Connection("warm-up", accepted, JsonNodeFactory.instance.objectNode().put("k", 1),
                    ByteBuffer.wrap(new byte[] {1}));
            // One copy per channel to build: on JDK 17 the 16th reflective construction generates an accessor
            // class, which must not happen during a real hand-over.
            List<FileDescriptor> copies = new ArrayList<>(FdChannel.roundTrip(
                    java.util.Collections.nCopies(REFLECTION_INFLATION + 1, Channels.fileDescriptor(accepted))));
            try {
                // Enough rounds for the JIT's first tier to compile the path.
                for (int i = 0; i < WARM_UP_ROUNDS; i++) {
                    ConnectionEntry entry = ManifestJson.connectionsFromTree(ManifestJson.connectionsToTree(
                            List.of(entryFor(connection)))).get(0);
                    ManifestValidator.validateConnection(entry, copies.get(0));
                }
                while (!copies.isEmpty()) {
                    FileDescriptor copy = copies.get(0);
                    FdDescription description = FdInspector.describeConnection(copy);
                    Channels.socketChannel(copy, description.family(), description.remoteAddress()).close();
                    copies.remove(0);
                }
            } finally {
                Fds.closeQuietly(copies);
            }
        }
    }

    /** 1 for a cold start, the predecessor's generation + 1 after a handoff. */
    public int generation() {
        return generation;
    }

    /** The listeners this process serves, by name, with the address each is bound to. */
    public synchronized Map<String, InetSocketAddress> listenerAddresses() {
        Map<String, InetSocketAddress> addresses = new LinkedHashMap<>();
        for (Map.Entry<String, NetworkChannel> listener : listeners.entrySet()) {
            try {
                addresses.put(listener.getKey(), (InetSocketAddress) listener.getValue().getLocalAddress());
            } catch (IOException e) {
                // closed: no longer served
            }
        }
        return addresses;
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
     * name and bound to {@code address} (port 0 matches any port), else a new one bound to
     * {@code address}.
     */
    public synchronized ServerSocketChannel listen(String name, InetSocketAddress address) throws IOException {
        return listener(name, address, ListenerEntry.Protocol.TCP, Channels::serverSocketChannel, () -> {
            ServerSocketChannel channel = ServerSocketChannel.open(familyOf(address));
            try {
                channel.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                channel.bind(address, options.backlog());
            } catch (IOException e) {
                channel.close();
                throw e;
            }
            return channel;
        });
    }

    /** Like {@link #listen(String, InetSocketAddress)}, for a UDP socket. */
    public synchronized DatagramChannel listenDatagram(String name, InetSocketAddress address) throws IOException {
        return listener(name, address, ListenerEntry.Protocol.UDP, Channels::datagramChannel, () -> {
            DatagramChannel channel = DatagramChannel.open(familyOf(address));
            try {
                channel.bind(address);
            } catch (IOException e) {
                channel.close();
                throw e;
            }
            return channel;
        });
    }

    private <C extends NetworkChannel> C listener(String name, InetSocketAddress address, ListenerEntry.Protocol protocol,
                                                  Rebuild<C> rebuild, BindFresh<C> bindFresh) throws IOException {
        Optional<FileDescriptor> inherited = inherited(name, address, protocol);
        C channel;
        if (inherited.isPresent()) {
            try {
                channel = rebuild.from(inherited.get());
            } catch (IOException | RuntimeException e) {
                Fds.closeQuietly(inherited.get());
                throw e;
            }
            log.info("{} listener '{}' inherited on {}", protocol, name, channel.getLocalAddress());
        } else {
            channel = bindFresh.open();
            log.info("{} listener '{}' bound fresh on {}", protocol, name, channel.getLocalAddress());
        }
        listeners.put(name, channel);
        return channel;
    }

    private interface Rebuild<C> {
        C from(FileDescriptor fd) throws IOException;
    }

    private interface BindFresh<C> {
        C open() throws IOException;
    }

    /** Claims a descriptor the predecessor shared under {@code name}; the caller owns it from now on. */
    public synchronized Optional<FileDescriptor> inheritedFile(String name) {
        return predecessor == null ? Optional.empty()
                : predecessor.inheritance().claim(name).filter(item -> item.file() != null).map(Inheritance.Item::fd);
    }

    /** Hands {@code fd} to the successor under {@code name}, along with the listeners. It stays open here. */
    public synchronized void shareFile(String name, FileDescriptor fd) {
        checkName(name);
        files.put(name, fd);
    }

    /** The application state the predecessor supplied, if any. */
    public Optional<JsonNode> inheritedState() {
        return predecessor == null ? Optional.empty() : Optional.ofNullable(predecessor.inheritance().manifest().state());
    }

    /** Supplies the application state sent with each handoff (called at the moment of the handoff). */
    public void stateProvider(Supplier<? extends JsonNode> provider) {
        this.stateProvider = provider;
    }

    /**
     * This process serves: closes inherited descriptors nobody claimed, takes over the rendezvous socket,
     * tells the predecessor READY, and starts accepting successors.
     */
    public void ready() throws IOException {
        synchronized (this) {
            if (ready) {
                throw new IllegalStateException("ready() was already called");
            }
            ready = true;
        }
        if (predecessor != null) {
            List<String> unclaimed = predecessor.inheritance().closeUnclaimed();
            if (!unclaimed.isEmpty()) {
                log.info("closed inherited descriptors nobody claimed: {}", unclaimed);
            }
            rendezvous = FdServer.takeOver(options.socketPath(), options.limits());
            tellPredecessorReady();
        } else {
            rendezvous = FdServer.bind(options.socketPath(), options.limits());
            predecessorDone.countDown();
            log.info("READY generation {} (cold start)", generation);
        }
        synchronized (this) {
            if (!systemdSockets.isEmpty()) {
                log.info("closing sockets from systemd that no listener asked for: {}", systemdSockets.keySet());
                Fds.closeQuietly(systemdSockets.values());
                systemdSockets.clear();
            }
        }
        writePidFile();
        notifySystemd();
        // Describe the listeners once now: the first handoff then runs warm code while its successor waits.
        snapshot();
        acceptor = new Thread(this::acceptSuccessors, "handoff-rendezvous");
        acceptor.setDaemon(true);
        acceptor.start();
        Thread watcher = new Thread(this::watchRendezvous, "handoff-rendezvous-watch");
        watcher.setDaemon(true);
        watcher.start();
    }

    /**
     * Puts the rendezvous socket back when someone deletes or replaces it (a tmpfiles clean-up, an
     * operator's rm): without it the next successor would find nobody, start cold and fail to bind. A
     * live socket of another process there is left alone, with one error in the log.
     */
    private void watchRendezvous() {
        boolean warned = false;
        while (!closed) {
            try {
                Thread.sleep(RENDEZVOUS_CHECK.toMillis());
            } catch (InterruptedException e) {
                return;
            }
            // During a session the successor renames its own socket into place: not ours to undo. (Should a
            // session start just after this check, the successor's own watcher puts its socket back.)
            FdServer current = rendezvous;
            if (exit.getCount() == 0 || sessionActive.get() || closed || current == null || current.ownsPath()) {
                warned = false;
            } else if (FdServer.isLive(options.socketPath())) {
                if (!warned) {
                    log.error("another process listens at {}; successors will reach it, not this process",
                            options.socketPath());
                }
                warned = true;
            } else {
                log.warn("the rendezvous socket at {} was deleted or replaced; putting it back", options.socketPath());
                reclaimRendezvous();
            }
        }
    }

    /**
     * Says READY to the predecessor. If it died meanwhile, this process serves what it was handed (the
     * only copies left) and says so; it does not fail.
     */
    private void tellPredecessorReady() {
        Consumer<Connection> handler = connectionHandler;
        receivingConnections = true;
        HandoffResult result;
        try {
            result = predecessor.ready(handler != null);
        } catch (IOException e) {
            receivingConnections = false;
            predecessorDone.countDown();
            closeQuietly(predecessor);
            result = HandoffResult.of(HandoffResult.Outcome.FAILED, "predecessor pid " + predecessor.incumbentPid()
                    + " went away before READY (" + e.getMessage() + ")", predecessor.incumbentPid(), System.nanoTime(), 0);
            metrics.record("successor", result);
            log.warn("READY generation {}: {}; serving the {} descriptors it handed over", generation, result.reason(),
                    predecessor.inheritance().manifest().fdCount());
            return;
        }
        metrics.record("successor", result);
        log.info("READY generation {} after handoff from pid {} in {} ms", generation, result.peerPid(),
                result.duration().toNanos() / 1e6);
        Thread watcher = new Thread(this::watchPredecessor, "handoff-predecessor");
        watcher.setDaemon(true);
        watcher.start();
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

    /** Writes the pid file, if one is configured: a temporary file renamed into place, never half written. */
    private void writePidFile() throws IOException {
        Path pidFile = options.pidFile();
        if (pidFile == null) {
            return;
        }
        Files.createDirectories(pidFile.getParent());
        Path temporary = pidFile.resolveSibling("." + pidFile.getFileName() + "." + ProcessHandle.current().pid());
        Files.writeString(temporary, ProcessHandle.current().pid() + "\n");
        Files.move(temporary, pidFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Blocks until a successor has taken over. */
    public void awaitExit() throws InterruptedException {
        exit.await();
    }

    /** Blocks until a successor has taken over or {@code timeout} passes; true if it took over. */
    public boolean awaitExit(Duration timeout) throws InterruptedException {
        return exit.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Calls {@code callback} (on a handoff thread) when a successor has taken over. */
    public void onExit(Consumer<HandoffResult> callback) {
        exitCallbacks.add(callback);
        if (exit.getCount() == 0) {
            lastHandoff().ifPresent(callback);
        }
    }

    /** Calls {@code callback} (on a handoff thread) after every handoff attempt, whatever its outcome. */
    public void onHandoff(Consumer<HandoffResult> callback) {
        handoffCallbacks.add(callback);
    }

    /** The most recent handoff this process took part in as the incumbent. */
    public Optional<HandoffResult> lastHandoff() {
        synchronized (results) {
            return results.isEmpty() ? Optional.empty() : Optional.of(results.get(results.size() - 1));
        }
    }

    /**
     * Adopts the connections the predecessor hands over: {@code handler} gets each one (on a handoff
     * thread) as a blocking-mode channel this process now owns, with its attachment and unread bytes.
     * Register it before {@link #ready()}: READY tells the predecessor whether to send connections at all.
     */
    public void onConnection(Consumer<Connection> handler) {
        if (ready) {
            throw new IllegalStateException("register the connection handler before ready()");
        }
        this.connectionHandler = handler;
    }

    /** Whether the predecessor may still hand connections over (until it says goodbye or goes away). */
    public boolean isReceivingConnections() {
        return receivingConnections;
    }

    /** Whether the successor that took over from this process adopts established connections (and is still there). */
    public boolean successorAdoptsConnections() {
        IncumbentSession next = successor;
        return next != null && next.successorAdoptsConnections();
    }

    /**
     * Makes this process the incumbent again after the successor that took over went away while
     * connections were being handed over to it: successors may connect again and {@link #awaitExit()}
     * waits for the next one. The application should go back to accepting on its listeners (which it
     * keeps open until its drain is over for this reason) and serve the connections it still has.
     *
     * @return false, changing nothing, when no successor took over or it is still there
     */
    public synchronized boolean resume() {
        IncumbentSession next = successor;
        if (next == null || !next.isLost()) {
            return false;
        }
        successor = null;
        next.goodbye("resuming");
        reclaimRendezvous();
        exit = new CountDownLatch(1);
        log.warn("the successor went away while connections were handed over to it; serving again as generation {}",
                generation);
        return true;
    }

    /**
     * Hands established connections to the successor, at a point where no request is in flight on them.
     * Each channel must be open, connected and no longer registered with any selector (cancel its key
     * and let the selector run once), with no thread blocked on it. The successor adopts them in batches;
     * those it took are closed here, which leaves the connection itself open.
     *
     * @return the connections the successor did not take (none took over, or it refused or failed):
     *         still open, still this process's, not a byte read by anyone else
     */
    public List<Connection> handOver(Collection<Connection> connections) {
        List<Connection> offered = List.copyOf(connections);
        for (Connection connection : offered) {
            if (connection.channel().isRegistered()) {
                throw new IllegalArgumentException(connection.channel() + " is still registered with a selector: cancel "
                        + "its key and let the selector run (selectNow) before handing it over");
            }
        }
        IncumbentSession next = successor;
        if (offered.isEmpty() || next == null || !next.successorAdoptsConnections()) {
            return offered;
        }
        long start = System.nanoTime();
        List<ConnectionEntry> entries = new ArrayList<>(offered.size());
        List<FileDescriptor> fds = new ArrayList<>(offered.size());
        for (Connection connection : offered) {
            entries.add(entryFor(connection));
            fds.add(Channels.fileDescriptor(connection.channel()));
        }
        // Each adopted channel is closed as soon as its batch is answered: not registered, nobody blocked
        // on it, so only our descriptor goes and the connection stays up.
        ConnectionTransfer transfer = next.handOverConnections(entries, fds, i -> closeQuietly(offered.get(i).channel()));
        List<Connection> kept = new ArrayList<>();
        for (int i = 0; i < offered.size(); i++) {
            if (!transfer.adopted().get(i)) {
                kept.add(offered.get(i));
            }
        }
        metrics.connections("incumbent", "adopted", offered.size() - kept.size());
        metrics.connections("incumbent", "kept", kept.size());
        if (!transfer.problems().isEmpty()) {
            log.warn("{} of {} connections stay here: {}", kept.size(), offered.size(), transfer.problems());
        }
        log.info("handed over {} of {} connections in {} ms", offered.size() - kept.size(), offered.size(),
                (System.nanoTime() - start) / 1e6);
        return kept;
    }

    private static ConnectionEntry entryFor(Connection connection) {
        SocketChannel channel = connection.channel();
        InetSocketAddress local;
        InetSocketAddress remote;
        try {
            local = (InetSocketAddress) channel.getLocalAddress();
            remote = (InetSocketAddress) channel.getRemoteAddress();
        } catch (IOException e) {
            throw new IllegalArgumentException(channel + " is closed", e);
        }
        if (remote == null) {
            throw new IllegalArgumentException(channel + " is not connected");
        }
        ByteBuffer unread = connection.unread().duplicate();
        byte[] bytes = new byte[unread.remaining()];
        unread.get(bytes);
        return new ConnectionEntry(connection.listener(), 0, local.getAddress().getHostAddress(), local.getPort(),
                remote.getAddress().getHostAddress(), remote.getPort(), connection.attachment(), bytes);
    }

    /**
     * Starts the configured upgrade command and waits until its process has taken over (or failed to).
     * Whatever happens, this process keeps serving unless the result says SUCCEEDED.
     */
    public HandoffResult upgrade() throws IOException, InterruptedException {
        if (options.upgradeCommand().isEmpty()) {
            throw new IllegalStateException("no upgrade command configured (HandoffOptions.upgradeCommand)");
        }
        if (!ready) {
            throw new IllegalStateException("call ready() before upgrade()");
        }
        long start = System.nanoTime();
        int seen;
        synchronized (results) {
            seen = results.size();
        }
        ProcessBuilder builder = new ProcessBuilder(options.upgradeCommand()).inheritIO();
        builder.environment().put("HANDOFF_PARENT_PID", Long.toString(ProcessHandle.current().pid()));
        Process child = builder.start();
        log.info("upgrade: started successor pid {}: {}", child.pid(), options.upgradeCommand());
        HandoffResult result = awaitResultFrom(child, seen, start);
        metrics.upgrade(result);
        return result;
    }

    private HandoffResult awaitResultFrom(Process child, int seen, long start) throws InterruptedException {
        long deadline = start + options.upgradeTimeout().toNanos();
        synchronized (results) {
            while (true) {
                for (int i = seen; i < results.size(); i++) {
                    HandoffResult result = results.get(i);
                    if (isProcessOrDescendant(result.peerPid(), child.toHandle())) {
                        return result;
                    }
                }
                seen = results.size();
                if (!child.isAlive() && !sessionActive.get()) {
                    return HandoffResult.of(HandoffResult.Outcome.FAILED, "successor pid " + child.pid()
                            + " exited with status " + child.exitValue() + " before handing over", child.pid(), start, 0);
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    child.destroyForcibly();
                    return HandoffResult.of(HandoffResult.Outcome.FAILED, "successor pid " + child.pid()
                            + " was not READY within " + options.upgradeTimeout() + "; killed it", child.pid(), start, 0);
                }
                results.wait(Math.max(1, Math.min(100, TimeUnit.NANOSECONDS.toMillis(left))));
            }
        }
    }

    private static boolean isProcessOrDescendant(long pid, ProcessHandle ancestor) {
        if (pid == ancestor.pid()) {
            return true;
        }
        Optional<ProcessHandle> current = ProcessHandle.of(pid);
        while (current.isPresent()) {
            current = current.get().parent();
            if (current.isPresent() && current.get().pid() == ancestor.pid()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Stops accepting successors and releases the rendezvous socket; tells a successor this process is
     * done. The application's own channels are the application's to close.
     */
    @Override
    public void close() throws IOException {
        closed = true;
        FdServer server = rendezvous;
        if (server != null) {
            server.close();
        }
        IncumbentSession next = successor;
        if (next != null) {
            next.goodbye("incumbent exits");
        }
        if (predecessor != null) {
            predecessor.inheritance().closeUnclaimed();
            predecessor.close();
        }
    }

    private void acceptSuccessors() {
        while (!closed) {
            FdServer server = rendezvous;
            FdChannel channel;
            try {
                channel = server.accept();
            } catch (IOException e) {
                if (!closed && server == rendezvous) {
                    log.warn("rendezvous socket failed; no more successors will be accepted", e);
                    return;
                }
                continue;
            }
            WireChannel wire = new WireChannel(channel);
            if (exit.getCount() == 0 || !sessionActive.compareAndSet(false, true)) {
                refuseBusy(wire, "another handoff is in progress");
                continue;
            }
            Thread session = new Thread(() -> runSession(wire), "handoff-session");
            session.setDaemon(true);
            session.start();
        }
    }

    private void refuseBusy(WireChannel wire, String reason) {
        long peerPid = peerPid(wire);
        IncumbentSession.sendBusy(wire, options.stepTimeout(), reason);
        closeQuietly(wire);
        HandoffResult busy = HandoffResult.of(HandoffResult.Outcome.BUSY, reason, peerPid, System.nanoTime(), 0);
        record(busy);
        announce(busy);
    }

    /**
     * At most two generations run at once: while the predecessor still hands this process its
     * connections, a third would take them over half-moved. A successor that arrives then waits a little
     * (a drain usually ends in milliseconds), and is told busy if it does not end.
     */
    private boolean predecessorFinished() {
        try {
            return predecessorDone.await(options.stepTimeout().toMillis() / 2, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static long peerPid(WireChannel wire) {
        try {
            return wire.peer().pid();
        } catch (IOException e) {
            return -1;
        }
    }

    private void runSession(WireChannel wire) {
        if (!predecessorFinished()) {
            try {
                refuseBusy(wire, "generation " + (generation - 1) + " (pid " + predecessor.incumbentPid()
                        + ") is still handing its connections to this process (generation " + generation
                        + "); at most two generations run at once, try again once it has exited");
            } finally {
                sessionActive.set(false);
            }
            return;
        }
        HandoffResult result;
        try {
            IncumbentSession session = new IncumbentSession(wire, config, generation);
            result = session.run(this::snapshot);
            if (result.succeeded()) {
                successor = session;
                log.info("handed over to pid {} in {} ms ({} descriptors)", result.peerPid(),
                        result.duration().toNanos() / 1e6, result.fds());
            } else {
                closeQuietly(wire);
                log.warn("handoff to pid {} {}: {}; still serving", result.peerPid(), result.outcome(), result.reason());
                reclaimRendezvous();
            }
            record(result); // before the exit signal: whoever it wakes reads lastHandoff()
            if (result.succeeded()) {
                exit.countDown();
            }
        } finally {
            sessionActive.set(false);
        }
        // Only now: whoever a callback tells about a failure may send the next successor at once.
        announce(result);
        if (result.succeeded()) {
            exitCallbacks.forEach(callback -> callback.accept(result));
        }
    }

    /** A successor that failed after renaming its own socket into place must not leave us unreachable. */
    private synchronized void reclaimRendezvous() {
        FdServer current = rendezvous;
        if (closed || current == null || current.ownsPath()) {
            return;
        }
        try {
            rendezvous = FdServer.takeOver(options.socketPath(), options.limits());
            current.close();
        } catch (IOException e) {
            log.warn("could not take back the rendezvous socket at {}", options.socketPath(), e);
        }
    }

    private void record(HandoffResult result) {
        metrics.record("incumbent", result);
        synchronized (results) {
            results.add(result);
            results.notifyAll();
        }
    }

    private void announce(HandoffResult result) {
        handoffCallbacks.forEach(callback -> callback.accept(result));
    }

    private void watchPredecessor() {
        Consumer<Connection> handler = connectionHandler;
        try {
            predecessor.receiveConnections(handler == null ? null : (entry, channel) -> {
                metrics.adopted();
                handler.accept(new Connection(entry.listener(), channel, entry.attachment(), ByteBuffer.wrap(entry.unread())));
            });
        } finally {
            receivingConnections = false;
            predecessorDone.countDown();
            closeQuietly(predecessor);
        }
    }

    private synchronized Snapshot snapshot() throws IOException {
        List<ListenerEntry> listenerEntries = new ArrayList<>();
        List<FileEntry> fileEntries = new ArrayList<>();
        List<FileDescriptor> fds = new ArrayList<>();
        for (Map.Entry<String, NetworkChannel> entry : listeners.entrySet()) {
            NetworkChannel channel = entry.getValue();
            if (!channel.isOpen()) {
                continue;
            }
            FileDescriptor fd = Channels.fileDescriptor(channel);
            FdDescription description = FdInspector.describe(fd);
            listenerEntries.add(new ListenerEntry(entry.getKey(),
                    description.type() == FdType.UDP ? ListenerEntry.Protocol.UDP : ListenerEntry.Protocol.TCP,
                    description.family().name(), description.localAddress().getAddress().getHostAddress(),
                    description.localAddress().getPort(), fds.size(), socketOptions(channel)));
            fds.add(fd);
        }
        for (Map.Entry<String, FileDescriptor> entry : files.entrySet()) {
            if (!entry.getValue().valid()) {
                continue;
            }
            fileEntries.add(new FileEntry(entry.getKey(), FdInspector.describe(entry.getValue()).type(), fds.size()));
            fds.add(entry.getValue());
        }
        Manifest manifest = new Manifest(Manifest.SCHEMA, ProcessHandle.current().pid(), generation, listenerEntries,
                fileEntries, stateProvider.get());
        return new Snapshot(manifest, fds);
    }

    private static Map<String, String> socketOptions(NetworkChannel channel) {
        Map<String, String> values = new TreeMap<>();
        for (SocketOption<?> option : channel.supportedOptions()) {
            try {
                values.put(option.name(), String.valueOf(channel.getOption(option)));
            } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
                // not readable on this socket: leave it out
            }
        }
        return values;
    }

    private Optional<FileDescriptor> inherited(String name, InetSocketAddress wanted, ListenerEntry.Protocol protocol) {
        checkName(name);
        if (predecessor == null) {
            return activated(name, wanted, protocol);
        }
        Optional<Inheritance.Item> claimed = predecessor.inheritance().claim(name);
        if (claimed.isEmpty()) {
            return Optional.empty();
        }
        Inheritance.Item item = claimed.get();
        InetSocketAddress actual = item.description().localAddress();
        boolean matches = item.listener() != null && item.listener().protocol() == protocol
                && (wanted.getPort() == 0 || wanted.getPort() == actual.getPort())
                && wanted.getAddress().equals(actual.getAddress());
        if (!matches) {
            log.warn("inherited '{}' is {} but {} {} was asked for; closing it and binding fresh", name,
                    item.description(), protocol, wanted);
            Fds.closeQuietly(item.fd());
            return Optional.empty();
        }
        return Optional.of(item.fd());
    }

    /** On a cold start, the socket systemd passed under {@code name} (socket activation), if it fits. */
    private synchronized Optional<FileDescriptor> activated(String name, InetSocketAddress wanted, ListenerEntry.Protocol protocol) {
        FileDescriptor fd = systemdSockets.remove(name);
        if (fd == null) {
            return Optional.empty();
        }
        try {
            FdDescription description = FdInspector.describe(fd);
            FdType expected = protocol == ListenerEntry.Protocol.UDP ? FdType.UDP : FdType.TCP_LISTENER;
            InetSocketAddress actual = description.localAddress();
            if (description.type() == expected && (wanted.getPort() == 0 || wanted.getPort() == actual.getPort())
                    && wanted.getAddress().equals(actual.getAddress())) {
                log.info("listener '{}' from systemd socket activation: {}", name, description);
                return Optional.of(fd);
            }
            log.warn("systemd passed '{}' as {} but {} {} was asked for; closing it and binding fresh", name, description,
                    protocol, wanted);
        } catch (IOException e) {
            log.warn("systemd passed '{}' but it cannot be used: {}", name, e.getMessage());
        }
        Fds.closeQuietly(fd);
        return Optional.empty();
    }

    private void checkName(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a name is required");
        }
        if (listeners.containsKey(name) || files.containsKey(name)) {
            throw new IllegalArgumentException("name '" + name + "' is already in use");
        }
    }

    private static StandardProtocolFamily familyOf(InetSocketAddress address) {
        return address.getAddress() instanceof Inet4Address ? StandardProtocolFamily.INET : StandardProtocolFamily.INET6;
    }

    private static void closeQuietly(Closeable closeable) {
        try {
            closeable.close();
        } catch (IOException e) {
            log.debug("close failed", e);
        }
    }
}
