package dev.handoff.core.session;

import dev.handoff.core.channel.Channels;
import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdChannelException;
import dev.handoff.core.fd.FdDescription;
import dev.handoff.core.fd.FdMessage;
import dev.handoff.core.fd.FdServer;
import dev.handoff.core.fd.Fds;
import dev.handoff.core.fd.PeerCredentials;
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
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The successor's side of a handoff, driven through the states of {@link SuccessorState}: connect to the
 * incumbent's rendezvous socket, agree on a version, receive and validate the manifest and its
 * descriptors; later say READY and receive the predecessor's connections until its goodbye.
 */
public final class SuccessorSession implements Closeable {

    private static final Logger log = LoggerFactory.getLogger(SuccessorSession.class);
    /** How long a killed incumbent may take to finish exiting once its end of the channel is gone. */
    private static final Duration EXIT_WAIT = Duration.ofSeconds(2);

    private final WireChannel wire;
    private final SessionConfig config;
    private final Message.Welcome welcome;
    private final Inheritance inheritance;
    private final long startNanos;
    private final long incumbentPid;
    private volatile SuccessorState state = SuccessorState.INHERITED;

    private SuccessorSession(WireChannel wire, SessionConfig config, Message.Welcome welcome, Inheritance inheritance,
                             long startNanos, long incumbentPid) {
        this.wire = wire;
        this.config = config;
        this.welcome = welcome;
        this.inheritance = inheritance;
        this.startNanos = startNanos;
        this.incumbentPid = incumbentPid;
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
        Handshake handshake = new Handshake(new WireChannel(channel), config, path);
        return handshake.run(start);
    }

    /** The steps from hello to the manifest, with the state they are in. */
    private static final class Handshake {
        private final WireChannel wire;
        private final SessionConfig config;
        private final Path path;
        private SuccessorState state = SuccessorState.CONNECTING;
        private long incumbentPid = -1;

        Handshake(WireChannel wire, SessionConfig config, Path path) {
            this.wire = wire;
            this.config = config;
            this.path = path;
        }

        Attempt run(long start) {
            try {
                PeerCredentials peer = wire.peer();
                incumbentPid = peer.pid();
                if (!config.allowedUids().contains(peer.uid())) {
                    return close(SuccessorState.REFUSED, "the process at " + path + " (pid " + peer.pid()
                            + ") runs as uid " + peer.uid() + ", allowed: " + config.allowedUids());
                }
                String nonce = SharedSecret.nonce();
                wire.send(new Message.Hello(ProtocolVersions.SUPPORTED, ProcessHandle.current().pid(),
                        FdChannel.maxFdsPerMessage(), config.secret() == null ? List.of() : List.of(Message.SECRET), nonce));
                Message answer;
                try (WireChannel.Received<Message> received = await(SuccessorState.AWAIT_WELCOME)) {
                    answer = received.message();
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
                            new SuccessorSession(wire, config, welcome, inheritance, start, incumbentPid), null, null);
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

        private boolean incumbentGone() {
            return PeerProcess.hasExited(incumbentPid, EXIT_WAIT) || !FdServer.isLive(path);
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

    /**
     * Says READY; returns when this session started ({@link System#nanoTime()}), for the handoff's
     * duration. With {@code adoptsConnections} the predecessor may then hand over established connections,
     * which {@link #receiveConnections(ConnectionHandler)} takes. If READY cannot be sent, the session
     * ends in {@link SuccessorState#ALONE} and the exception says why.
     */
    public long ready(boolean adoptsConnections) throws IOException {
        try {
            wire.send(new Message.Ready(ProcessHandle.current().pid(),
                    adoptsConnections ? List.of(Message.CONNECTIONS) : List.of()));
        } catch (IOException e) {
            state = state.after(Fault.of(e));
            throw e;
        }
        state = SuccessorState.RECEIVING;
        return startNanos;
    }

    /** Takes one connection the incumbent handed over; from then on the handler owns the channel. */
    public interface ConnectionHandler {
        void adopt(ConnectionEntry entry, SocketChannel channel);
    }

    /**
     * Receives handed-over connections until the incumbent says goodbye or goes away. Each batch is
     * checked descriptor by descriptor; the answer names the connections refused (they stay the
     * incumbent's), and only once it is sent does {@code handler} get the others. With no handler every
     * connection is refused.
     */
    public void receiveConnections(ConnectionHandler handler) {
        while (state == SuccessorState.RECEIVING) {
            try (WireChannel.Received<Message> received = wire.receive(state.deadline().in(config), state.expects())) {
                if (received.message() instanceof Message.Goodbye goodbye) {
                    log.debug("incumbent said goodbye: {}", goodbye.reason());
                    state = SuccessorState.DONE;
                } else {
                    adoptBatch((Message.Connections) received.message(), received.fds(), handler);
                }
            } catch (IOException e) {
                Fault fault = Fault.of(e);
                if (fault == Fault.PEER_CLOSED) {
                    log.debug("incumbent went away: {}", e.getMessage());
                } else {
                    log.warn("unexpected message from the incumbent after READY: {}", e.getMessage());
                }
                state = state.after(fault);
            }
        }
    }

    /** Answers the batch; when the answer cannot be sent nothing of it was adopted, and the session is over. */
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
                    : entry.fd() < 0 || entry.fd() >= fds.fdCount() ? "no file descriptor " + entry.fd() + " in the batch"
                    : fds.isTaken(entry.fd()) ? "file descriptor " + entry.fd() + " is named twice"
                    : null;
            if (problem == null) {
                FileDescriptor fd = fds.take(entry.fd());
                try {
                    FdDescription description = ManifestValidator.validateConnection(entry, fd);
                    channels.add(Channels.socketChannel(fd, description.family(), description.remoteAddress()));
                    adoptedEntries.add(entry);
                    continue;
                } catch (IOException | RuntimeException e) {
                    Fds.closeQuietly(fd);
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
        try {
            wire.send(new Message.Adopted(rejected));
        } catch (IOException e) {
            state = SuccessorState.DONE;
            if (PeerProcess.hasExited(incumbentPid, EXIT_WAIT)) {
                // Nobody else holds them any more: serving them is the only way not to lose them.
                log.warn("the incumbent (pid {}) died before it heard our answer; keeping its {} connections",
                        incumbentPid, channels.size());
                handOverAll(adoptedEntries, channels, handler);
                return;
            }
            // The incumbent did not hear that we took them, so it keeps them: ours must go, unread.
            log.warn("could not confirm {} handed-over connections; the incumbent keeps them: {}", channels.size(),
                    e.getMessage());
            channels.forEach(SuccessorSession::closeQuietly);
            return;
        }
        log.debug("adopted {} connections in {} ms", channels.size(), (System.nanoTime() - start) / 1e6);
        handOverAll(adoptedEntries, channels, handler);
    }

    private static void handOverAll(List<ConnectionEntry> entries, List<SocketChannel> channels, ConnectionHandler handler) {
        for (int i = 0; i < channels.size(); i++) {
            try {
                handler.adopt(entries.get(i), channels.get(i));
            } catch (RuntimeException e) {
                log.warn("the connection handler failed; closing the connection", e);
                closeQuietly(channels.get(i));
            }
        }
    }

    private static void closeQuietly(Closeable closeable) {
        try {
            closeable.close();
        } catch (IOException e) {
            log.debug("close failed", e);
        }
    }

    @Override
    public void close() throws IOException {
        wire.close();
    }
}
