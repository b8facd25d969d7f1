package dev.handoff.core.session;

import dev.handoff.core.channel.Channels;
import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdChannelException;
import dev.handoff.core.fd.FdDescription;
import dev.handoff.core.fd.FdInspector;
import dev.handoff.core.fd.FdMessage;
import dev.handoff.core.fd.FdServer;
import dev.handoff.core.fd.Fds;
import dev.handoff.core.fd.PeerCredentials;
import dev.handoff.core.fd.PeerLifeline;
import dev.handoff.core.manifest.ConnectionEntry;
import dev.handoff.core.manifest.InvalidManifestException;
import dev.handoff.core.manifest.Manifest;
import dev.handoff.core.manifest.ManifestJson;
import dev.handoff.core.manifest.ManifestValidator;
import dev.handoff.core.wire.Message;
import dev.handoff.core.wire.ProtocolVersions;
import dev.handoff.core.wire.WireChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The successor's side of a handoff, driven through the states of {@link SuccessorState}: connect to the
 * incumbent's rendezvous socket, agree on a version, receive and validate the manifest and its
 * descriptors; later say READY, serve once the incumbent confirmed it (or is gone), and receive the
 * predecessor's connections until its goodbye or the end of its drain.
 */
public final class SuccessorSession implements Closeable {

    private static final Logger log = LoggerFactory.getLogger(SuccessorSession.class);

    /** How long a message already queued may take to read: it is all here, or it is not coming. */
    private static final Duration QUEUED_WAIT = Duration.ofMillis(200);

    private final WireChannel wire;
    private final SessionConfig config;
    private final Message.Welcome welcome;
    private final Inheritance inheritance;
    private final long startNanos;
    private final PeerProcess incumbent;
    private final ExecutorService adopters;
    private volatile SuccessorState state = SuccessorState.INHERITED;
    private volatile long receiveDeadline; // System.nanoTime(); 0: none
    private boolean orphaned; // the incumbent is gone: what is queued is kept, unanswered

    private SuccessorSession(WireChannel wire, SessionConfig config, Message.Welcome welcome, Inheritance inheritance,
                             long startNanos, PeerProcess incumbent) {
        this.wire = wire;
        this.config = config;
        this.welcome = welcome;
        this.inheritance = inheritance;
        this.startNanos = startNanos;
        this.incumbent = incumbent;
        // Handlers run apart from the reception: a slow one must not delay the answer to the next batch.
        this.adopters = Executors.newSingleThreadExecutor(task -> {
            Thread thread = new Thread(task, "handoff-adopted");
            thread.setDaemon(true);
            return thread;
        });
    }

    /**
     * How a start went: {@link SuccessorState#INHERITED} with the session, or the final state it ended in
     * ({@code COLD}, {@code BUSY}, {@code REFUSED}, {@code FAILED}) with the reason and any cause.
     */
    public record Attempt(SuccessorState state, SuccessorSession session, String reason, IOException cause) {

        static Attempt ended(SuccessorState state, String reason, IOException cause) {
            return new Attempt(state, null, reason, cause);
        }
    }

    /**
     * How READY went: {@code RECEIVING} (confirmed; connections may come), {@code DONE} (confirmed, but
     * the traffic ended: nothing more comes), {@code ALONE} (the incumbent died before it confirmed: this
     * process serves on its own) or {@code WITHDRAWN} (the incumbent is there and did not confirm: this
     * process must not serve).
     */
    public record Readiness(SuccessorState state, String reason) {

        public boolean serves() {
            return state != SuccessorState.WITHDRAWN;
        }
    }

    /**
     * Asks the incumbent at {@code path} for its descriptors. Nobody there, or an incumbent that dies before
     * its descriptors arrive (its listeners died with it), is a cold start; an incumbent that is there but
     * does not hand over ends the attempt in {@code BUSY}, {@code REFUSED} or {@code FAILED}: starting cold
     * would collide with it.
     */
    public static Attempt connect(Path path, SessionConfig config) {
        // notExists, not !exists: a path this process may not even look at is not proof that nobody is there.
        if (Files.notExists(path)) {
            return Attempt.ended(SuccessorState.COLD, "no incumbent at " + path, null);
        }
        long start = System.nanoTime();
        FdChannel channel;
        try {
            channel = FdChannel.connect(path, config.limits(), SuccessorState.CONNECTING.deadline().in(config));
        } catch (FdChannelException e) {
            return Attempt.ended(SuccessorState.CONNECTING.after(Fault.of(e)), "cannot connect to the incumbent at "
                    + path + ": " + e.getMessage(), e);
        } catch (IOException e) {
            if (FdServer.isLive(path)) {
                return Attempt.ended(SuccessorState.CONNECTING.after(Fault.PEER_CLOSED), "cannot connect to the "
                        + "incumbent at " + path + ": " + e.getMessage(), e);
            }
            if (!Files.isWritable(path)) {
                return Attempt.ended(SuccessorState.CONNECTING.after(Fault.PEER_CLOSED), "cannot connect to the "
                        + "rendezvous socket at " + path + " (" + e.getMessage() + "): this process (uid "
                        + PeerCredentials.ownUid() + ") may not open it", e);
            }
            return Attempt.ended(SuccessorState.CONNECTING.after(Fault.PEER_DIED), "no incumbent at " + path
                    + " (stale socket: " + e.getMessage() + ")", null);
        }
        Handshake handshake = new Handshake(new WireChannel(channel, config.stepTimeout()), config, path);
        return handshake.run(start);
    }

    /** The steps from hello to the manifest, with the state they are in. */
    private static final class Handshake {
        private final WireChannel wire;
        private final SessionConfig config;
        private final Path path;
        private SuccessorState state = SuccessorState.CONNECTING;
        private PeerProcess incumbent = PeerProcess.ofPid(-1);

        Handshake(WireChannel wire, SessionConfig config, Path path) {
            this.wire = wire;
            this.config = config;
            this.path = path;
        }

        Attempt run(long start) {
            long incumbentPid = -1;
            try {
                PeerCredentials peer = wire.peer();
                incumbentPid = peer.pid();
                incumbent = PeerProcess.ofPid(incumbentPid);
                if (!config.allowedUids().contains(peer.uid())) {
                    return close(SuccessorState.REFUSED, "the process at " + path + " (pid " + peer.pid()
                            + ") runs as uid " + peer.uid() + ", allowed: " + config.allowedUids());
                }
                String nonce = SharedSecret.nonce();
                sendHello(nonce);
                Message answer;
                try (WireChannel.Received<Message> received = await(SuccessorState.AWAIT_WELCOME)) {
                    answer = received.message();
                    if (answer instanceof Message.Welcome welcome) {
                        incumbent = watch(incumbentPid, welcome, received.fds());
                    }
                }
                if (answer instanceof Message.Busy busy) {
                    return close(SuccessorState.BUSY, "incumbent is busy: " + busy.reason());
                }
                if (answer instanceof Message.Refused refused) {
                    return close(SuccessorState.REFUSED, "incumbent refused: " + refused.reason());
                }
                Message.Welcome welcome = (Message.Welcome) answer;
                String refusal = proveSecret(nonce, welcome);
                if (refusal != null) {
                    return close(SuccessorState.REFUSED, refusal);
                }
                wire.fdChannel().limitSendBatch(welcome.maxFdsPerMessage());
                try (WireChannel.Received<Message> received = await(SuccessorState.AWAIT_MANIFEST)) {
                    if (received.message() instanceof Message.Refused refused) {
                        return close(SuccessorState.REFUSED, "incumbent refused: " + refused.reason());
                    }
                    Inheritance inheritance = validate((Message.Handover) received.message(), received.fds().takeAll());
                    return new Attempt(SuccessorState.INHERITED,
                            new SuccessorSession(wire, config, welcome, inheritance, start, incumbent), null, null);
                }
            } catch (InvalidManifest e) {
                return close(SuccessorState.FAILED, e.getMessage(), e.cause);
            } catch (RuntimeException e) {
                // A message that decodes but cannot be used (a welcome that allows no descriptors, ...).
                return close(state.after(Fault.MALFORMED), "handoff from the incumbent at " + path + " failed in "
                        + state + ": " + e.getMessage(), e);
            } catch (IOException e) {
                Fault fault = Fault.of(e);
                if ((fault == Fault.PEER_CLOSED || fault == Fault.MALFORMED) && incumbentGone()) {
                    fault = Fault.PEER_DIED;
                }
                SuccessorState next = state.after(fault);
                String reason = next == SuccessorState.COLD
                        ? "the incumbent (pid " + incumbentPid + ") went away before it handed anything over (" + e.getMessage() + ")"
                        : "handoff from the incumbent at " + path + " failed in " + state + ": " + e.getMessage();
                return close(next, reason, e);
            }
        }

        /** Hello, with this process's lifeline attached: the incumbent sees from it whether we are gone. */
        private void sendHello(String nonce) throws IOException {
            List<String> capabilities = new ArrayList<>();
            if (config.secret() != null) {
                capabilities.add(Message.SECRET);
            }
            List<FileDescriptor> lifeline = List.of();
            if (config.lifeline() != null) {
                capabilities.add(Message.LIFELINE);
                lifeline = List.of(config.lifeline().peerEnd());
            }
            wire.send(new Message.Hello(ProtocolVersions.SUPPORTED, ProcessHandle.current().pid(),
                    FdChannel.maxFdsPerMessage(), capabilities, nonce, config.limits().maxPayloadBytes()), lifeline);
        }

        private static PeerProcess watch(long pid, Message.Welcome welcome, FdMessage fds) throws IOException {
            if (welcome.version() >= ProtocolVersions.CONFIRMED_READY && welcome.capabilities().contains(Message.LIFELINE)
                    && fds.fdCount() == 1) {
                return PeerProcess.of(pid, PeerLifeline.watch(fds.take(0), "incumbent-" + pid));
            }
            return PeerProcess.ofPid(pid);
        }

        private boolean incumbentGone() {
            return incumbent.isGone(PeerProcess.EXIT_WAIT) || !FdServer.isLive(path);
        }

        private WireChannel.Received<Message> await(SuccessorState waiting) throws IOException {
            state = waiting;
            return wire.receive(waiting.deadline().in(config), waiting.expects());
        }

        /**
         * With a secret, checks the incumbent's proof and sends ours; without one, refuses an incumbent that
         * asks for it. Returns why the incumbent is refused (it has been told), or null.
         */
        private String proveSecret(String nonce, Message.Welcome welcome) throws IOException {
            SharedSecret secret = config.secret();
            boolean required = welcome.capabilities().contains(Message.SECRET);
            String problem = null;
            if (secret == null && required) {
                problem = "the incumbent at " + path + " (pid " + welcome.pid() + ") requires a shared secret and this "
                        + "process has none (HandoffOptions.sharedSecret)";
            } else if (secret != null && (!required
                    || !SharedSecret.matches(secret.incumbentProof(nonce, welcome.nonce()), welcome.proof()))) {
                problem = "the process at " + path + " (pid " + welcome.pid() + ") did not prove the shared secret";
            }
            if (problem != null) {
                wire.send(new Message.Refused(problem));
                return problem;
            }
            if (secret != null) {
                wire.send(new Message.Proof(secret.successorProof(nonce, welcome.nonce())));
            }
            return null;
        }

        /** The manifest checked against the descriptors that came with it; on any problem they are closed and the incumbent told. */
        private Inheritance validate(Message.Handover handover, List<FileDescriptor> fds) throws InvalidManifest {
            try {
                Manifest manifest = ManifestJson.fromTree(handover.manifest());
                List<FdDescription> descriptions = ManifestValidator.validate(manifest, fds);
                return new Inheritance(manifest, fds, descriptions);
            } catch (IOException | RuntimeException e) {
                Fds.closeQuietly(fds);
                try {
                    wire.send(new Message.Failed(e.getMessage()));
                } catch (IOException notTold) {
                    log.debug("could not report the failure to the incumbent", notTold);
                }
                throw new InvalidManifest(e);
            }
        }

        private Attempt close(SuccessorState end, String reason) {
            return close(end, reason, null);
        }

        private Attempt close(SuccessorState end, String reason, Exception cause) {
            incumbent.close();
            try {
                wire.close();
            } catch (IOException e) {
                log.debug("close failed", e);
            }
            IOException io = cause instanceof IOException e ? e : cause == null ? null : new IOException(reason, cause);
            return Attempt.ended(end, reason, io);
        }
    }

    /** A manifest that did not match what arrived (or could not be read). */
    private static final class InvalidManifest extends Exception {
        private final Exception cause;

        InvalidManifest(Exception cause) {
            super(cause.getMessage(), cause);
            this.cause = cause;
        }
    }

    public SuccessorState state() {
        return state;
    }

    public Inheritance inheritance() {
        return inheritance;
    }

    /** The incumbent's generation. */
    public int incumbentGeneration() {
        return welcome.generation();
    }

    public long incumbentPid() {
        return welcome.pid();
    }

    /** When this session started ({@link System#nanoTime()}), for the handoff's duration. */
    public long startNanos() {
        return startNanos;
    }

    /**
     * Says READY and waits for the incumbent to confirm it (protocol version 2). With
     * {@code adoptsConnections} the predecessor may then hand over established connections, which
     * {@link #receiveConnections(ConnectionHandler)} takes. Not confirmed: an incumbent that is gone leaves
     * this process serving alone; one that is there serves on, and this process must withdraw.
     */
    public Readiness ready(boolean adoptsConnections) {
        // An incumbent that gave up waiting said so before it closed: its reason is read first, rather than
        // a broken pipe from a READY sent into its closed end.
        if (wire.fdChannel().hasQueued()) {
            Optional<Message> early = queuedMessage();
            if (early.isPresent() && early.get() instanceof Message.Refused refused) {
                state = SuccessorState.WITHDRAWN;
                closeQuietly(wire);
                return new Readiness(state, "the incumbent (pid " + incumbentPid() + ") did not take READY: "
                        + refused.reason());
            }
        }
        try {
            wire.send(new Message.Ready(ProcessHandle.current().pid(),
                    adoptsConnections ? List.of(Message.CONNECTIONS) : List.of()));
        } catch (IOException e) {
            return notConfirmed(e);
        }
        if (welcome.version() < ProtocolVersions.CONFIRMED_READY) {
            state = SuccessorState.RECEIVING;
            return new Readiness(state, "ok (protocol version " + welcome.version() + ": READY is not confirmed)");
        }
        state = SuccessorState.AWAIT_CONFIRM;
        try (WireChannel.Received<Message> received = wire.receive(state.deadline().in(config), state.expects())) {
            return confirmedBy(received.message());
        } catch (IOException e) {
            if (Fault.of(e) == Fault.TIMEOUT) {
                // Cut first: from now on the incumbent's confirmation fails on its side (and it serves on);
                // one it sent before is queued here and counts.
                wire.fdChannel().endTraffic();
                Optional<Message> queued = queuedMessage();
                if (queued.isPresent() && queued.get() instanceof Message.Confirmed) {
                    state = SuccessorState.DONE;
                    return new Readiness(state, "READY was confirmed as the wait for it ended; no connections "
                            + "move from the predecessor (pid " + incumbentPid() + "), which keeps them");
                }
            }
            return notConfirmed(e);
        }
    }

    private Readiness confirmedBy(Message answer) {
        if (answer instanceof Message.Confirmed confirmed) {
            SessionConfig drain = config.withDrainTimeout(Duration.ofMillis(confirmed.drainTimeoutMillis()));
            Duration receiving = SuccessorState.RECEIVING.deadline().in(drain);
            receiveDeadline = receiving.isZero() ? 0 : System.nanoTime() + receiving.toNanos();
            state = SuccessorState.RECEIVING;
            return new Readiness(state, "ok");
        }
        state = SuccessorState.WITHDRAWN;
        closeQuietly(wire);
        return new Readiness(state, "the incumbent (pid " + incumbentPid() + ") did not take READY: "
                + ((Message.Refused) answer).reason());
    }

    /** A message the incumbent sent before the traffic ended, if one is queued here. */
    private Optional<Message> queuedMessage() {
        try (FdMessage message = wire.fdChannel().receive(QUEUED_WAIT)) {
            return Optional.of(WireChannel.decode(message.payload()));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private Readiness notConfirmed(IOException e) {
        Fault fault = incumbent.isGone(PeerProcess.EXIT_WAIT) ? Fault.PEER_DIED : Fault.of(e);
        SuccessorState waited = state;
        state = waited.after(fault);
        if (state == SuccessorState.ALONE) {
            closeQuietly(wire);
            return new Readiness(state, "the predecessor (pid " + incumbentPid() + ") died before it confirmed READY ("
                    + e.getMessage() + "); serving what it handed over, alone");
        }
        // An incumbent that gave up said why before it closed: the reason is still queued here.
        Optional<Message> queued = queuedMessage();
        closeQuietly(wire);
        if (queued.isPresent() && queued.get() instanceof Message.Refused refused) {
            return new Readiness(state, "the incumbent (pid " + incumbentPid() + ") did not take READY: " + refused.reason());
        }
        return new Readiness(state, "the incumbent (pid " + incumbentPid() + ") did not confirm READY in " + waited
                + " (" + e.getMessage() + "); it serves on, so this process must not");
    }

    /** Takes one connection the incumbent handed over; from then on the handler owns the channel. */
    public interface ConnectionHandler {
        /** Whether connections of {@code listener} are taken here; the others are refused (the incumbent keeps them). */
        default boolean adopts(String listener) {
            return true;
        }

        void adopt(ConnectionEntry entry, SocketChannel channel);
    }

    /**
     * Receives handed-over connections until the incumbent says goodbye, goes away, or its drain is over.
     * Each batch is checked descriptor by descriptor; the answer names the connections refused (they stay
     * the incumbent's), and only once it is sent does {@code handler} get the others, on a thread of its
     * own. Once the incumbent is gone, whatever it sent is kept unanswered until the end of the stream:
     * nobody else holds those connections any more. With no handler every connection is refused.
     */
    public void receiveConnections(ConnectionHandler handler) {
        try {
            while (state == SuccessorState.RECEIVING) {
                receiveOne(handler);
            }
        } finally {
            adopters.shutdown();
        }
    }

    private void receiveOne(ConnectionHandler handler) {
        Duration left = Duration.ZERO;
        if (receiveDeadline != 0 && !orphaned) {
            left = Duration.ofNanos(receiveDeadline - System.nanoTime());
            if (left.isNegative() || left.isZero()) {
                left = Duration.ofMillis(1);
            }
        }
        try (WireChannel.Received<Message> received = wire.receive(left, state.expects())) {
            if (received.message() instanceof Message.Goodbye goodbye) {
                log.debug("incumbent said goodbye: {}", goodbye.reason());
                state = SuccessorState.DONE;
            } else {
                adoptBatch((Message.Connections) received.message(), received.fds(), handler);
            }
        } catch (IOException e) {
            Fault fault = Fault.of(e);
            if (fault == Fault.TIMEOUT && incumbent.isGone(Duration.ZERO)) {
                orphaned = true; // read on to the end of the stream, which comes soon
                return;
            }
            switch (fault) {
                case PEER_CLOSED -> log.debug("incumbent went away: {}", e.getMessage());
                case TIMEOUT -> log.warn("the predecessor (pid {}) did not say goodbye by the end of its drain "
                        + "timeout and a step; no more connections are taken from it", incumbentPid());
                default -> log.warn("unexpected message from the incumbent after READY: {}", e.getMessage());
            }
            // What is still queued was not answered, so the incumbent (alive) keeps it: ours go, unread.
            wire.fdChannel().endTraffic();
            state = state.after(fault);
        }
    }

    /** Answers the batch; when the answer cannot be sent nothing of it was adopted, unless the incumbent is gone. */
    private void adoptBatch(Message.Connections batch, FdMessage fds, ConnectionHandler handler) {
        long start = System.nanoTime();
        List<Message.Rejection> rejected = new ArrayList<>();
        List<ConnectionEntry> entries;
        try {
            entries = ManifestJson.connectionsFromTree(batch.connections());
        } catch (InvalidManifestException e) {
            entries = List.of();
            for (int i = 0; i < fds.fdCount(); i++) {
                rejected.add(new Message.Rejection(i, e.getMessage()));
            }
        }
        List<ConnectionEntry> adoptedEntries = new ArrayList<>(entries.size());
        List<SocketChannel> channels = new ArrayList<>(entries.size());
        for (int i = 0; i < entries.size(); i++) {
            ConnectionEntry entry = entries.get(i);
            String problem = handler == null ? "this process does not adopt connections"
                    : !handler.adopts(entry.listener()) ? "this process adopts no connection of listener '"
                            + entry.listener() + "'"
                    : entry.fd() < 0 || entry.fd() >= fds.fdCount() ? "no file descriptor " + entry.fd() + " in the batch"
                    : fds.isTaken(entry.fd()) ? "file descriptor " + entry.fd() + " is named twice"
                    : null;
            if (problem == null) {
                try {
                    channels.add(channelOf(entry, fds.take(entry.fd())));
                    adoptedEntries.add(entry);
                    continue;
                } catch (IOException | RuntimeException e) {
                    problem = e.getMessage();
                }
            }
            rejected.add(new Message.Rejection(i, problem));
        }
        fds.close(); // descriptors no entry named
        if (!rejected.isEmpty()) {
            log.warn("refused {} of {} handed-over connections, e.g. {}", rejected.size(), entries.size(),
                    rejected.get(0).reason());
        }
        if (orphaned) {
            log.warn("keeping {} connections the predecessor (pid {}) sent before it died", channels.size(), incumbentPid());
            handOverAll(adoptedEntries, channels, handler);
            return;
        }
        try {
            wire.send(new Message.Adopted(rejected));
        } catch (IOException e) {
            if (incumbent.isGone(PeerProcess.EXIT_WAIT)) {
                // Nobody else holds them any more: serving them is the only way not to lose them, and the
                // same goes for every batch still queued behind this one.
                orphaned = true;
                log.warn("the predecessor (pid {}) died before it heard our answer; keeping its {} connections",
                        incumbentPid(), channels.size());
                handOverAll(adoptedEntries, channels, handler);
                return;
            }
            // The incumbent did not hear that we took them, so it keeps them: ours must go, unread.
            state = SuccessorState.DONE;
            log.warn("could not confirm {} handed-over connections; the incumbent keeps them: {}", channels.size(),
                    e.getMessage());
            channels.forEach(SuccessorSession::closeQuietly);
            return;
        }
        log.debug("adopted {} connections in {} ms", channels.size(), (System.nanoTime() - start) / 1e6);
        handOverAll(adoptedEntries, channels, handler);
    }

    /**
     * The channel of a handed-over connection, once the kernel confirms what its entry says; else the
     * descriptor is closed and the exception says why.
     */
    public static SocketChannel channelOf(ConnectionEntry entry, FileDescriptor fd) throws IOException {
        SocketChannel channel = null;
        try {
            FdDescription description = FdInspector.describeConnection(fd);
            ManifestValidator.validateConnection(entry, description);
            channel = Channels.socketChannel(fd, description.family(), description.remoteAddress());
            ManifestValidator.validateLocalAddress(entry, (InetSocketAddress) channel.getLocalAddress());
            return channel;
        } catch (IOException | RuntimeException e) {
            if (channel != null) {
                closeQuietly(channel);
            } else {
                Fds.closeQuietly(fd);
            }
            throw e;
        }
    }

    /** The handler gets a batch's connections on the adopters' thread, one task per batch. */
    private void handOverAll(List<ConnectionEntry> entries, List<SocketChannel> channels, ConnectionHandler handler) {
        adopters.execute(() -> {
            for (int i = 0; i < channels.size(); i++) {
                try {
                    handler.adopt(entries.get(i), channels.get(i));
                } catch (RuntimeException e) {
                    log.warn("the connection handler failed; closing the connection", e);
                    closeQuietly(channels.get(i));
                }
            }
        });
    }

    private static void closeQuietly(Closeable closeable) {
        try {
            closeable.close();
        } catch (IOException e) {
            log.debug("close failed", e);
        }
    }

    /** Closes the channel and the watch on the incumbent. */
    @Override
    public void close() throws IOException {
        incumbent.close();
        wire.close();
    }
}
