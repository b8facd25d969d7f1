package dev.handoff.core.session;

import dev.handoff.core.channel.Channels;
import dev.handoff.core.fd.FdDescription;
import dev.handoff.core.fd.FdMessage;
import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdChannelException;
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
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The successor's side of a handoff: connect to the incumbent's rendezvous socket, agree on a version,
 * receive and validate the manifest and its descriptors, and later say READY.
 */
public final class SuccessorSession implements Closeable {

    private static final Logger log = LoggerFactory.getLogger(SuccessorSession.class);
    /** How long a killed incumbent may take to finish exiting once its end of the channel is gone. */
    private static final Duration EXIT_WAIT = Duration.ofSeconds(2);

    private final WireChannel wire;
    private final Message.Welcome welcome;
    private final Inheritance inheritance;
    private final long startNanos;
    private final long incumbentPid;

    private SuccessorSession(WireChannel wire, Message.Welcome welcome, Inheritance inheritance, long startNanos)
            throws IOException {
        this.wire = wire;
        this.incumbentPid = wire.peer().pid();
        this.welcome = welcome;
        this.inheritance = inheritance;
        this.startNanos = startNanos;
    }

    /**
     * How a start went: a session when the incumbent handed over, else the reason this process starts cold
     * (nobody at the socket, or an incumbent that died before it sent its descriptors).
     */
    public record Attempt(SuccessorSession session, String coldStartReason) {
    }

    /**
     * Asks the incumbent at {@code path} for its descriptors. Starts cold when nobody listens there or the
     * incumbent dies before its descriptors arrive (its listeners died with it); throws when an incumbent
     * is there but the handoff fails: starting cold would collide with it.
     */
    public static Attempt connect(Path path, SessionConfig config) throws IOException {
        // notExists, not !exists: a path this process may not even look at is not proof that nobody is there.
        if (Files.notExists(path)) {
            return new Attempt(null, "no incumbent at " + path);
        }
        long start = System.nanoTime();
        FdChannel channel;
        try {
            channel = FdChannel.connect(path, config.limits());
        } catch (IOException e) {
            if (FdServer.isLive(path)) {
                throw e;
            }
            if (!Files.isWritable(path)) {
                throw new IOException("cannot connect to the rendezvous socket at " + path + " (" + e.getMessage()
                        + "): this process (uid " + PeerCredentials.ownUid() + ") may not open it", e);
            }
            return new Attempt(null, "no incumbent at " + path + " (stale socket: " + e.getMessage() + ")");
        }
        WireChannel wire = new WireChannel(channel);
        long incumbentPid = -1;
        try {
            PeerCredentials peer = wire.peer();
            incumbentPid = peer.pid();
            if (!config.allowedUids().contains(peer.uid())) {
                throw new HandoffRejectedException(HandoffResult.Outcome.REFUSED, "the process at " + path + " (pid "
                        + peer.pid() + ") runs as uid " + peer.uid() + ", allowed: " + config.allowedUids());
            }
            String nonce = SharedSecret.nonce();
            wire.send(new Message.Hello(ProtocolVersions.SUPPORTED, ProcessHandle.current().pid(),
                    FdChannel.maxFdsPerMessage(), config.secret() == null ? List.of() : List.of(Message.SECRET), nonce));
            Message answer;
            try (WireChannel.Received<Message> received = wire.receive(config.stepTimeout(), Message.Welcome.class,
                    Message.Busy.class, Message.Refused.class)) {
                answer = received.message();
            }
            if (answer instanceof Message.Busy busy) {
                throw new HandoffRejectedException(HandoffResult.Outcome.BUSY, "incumbent is busy: " + busy.reason());
            }
            if (answer instanceof Message.Refused refused) {
                throw new HandoffRejectedException(HandoffResult.Outcome.REFUSED, "incumbent refused: " + refused.reason());
            }
            Message.Welcome welcome = (Message.Welcome) answer;
            proveSecret(wire, config.secret(), nonce, welcome, path);
            channel.limitSendBatch(welcome.maxFdsPerMessage());
            Inheritance inheritance = receiveManifest(wire, config);
            return new Attempt(new SuccessorSession(wire, welcome, inheritance, start), null);
        } catch (IOException | RuntimeException e) {
            wire.close();
            if (e instanceof FdChannelException || e instanceof SocketException) {
                if (PeerProcess.hasExited(incumbentPid, EXIT_WAIT) || !FdServer.isLive(path)) {
                    return new Attempt(null, "the incumbent (pid " + incumbentPid + ") went away before it handed "
                            + "anything over (" + e.getMessage() + ")");
                }
            }
            throw e;
        }
    }

    /**
     * With a secret, checks the incumbent's proof and sends ours; without one, refuses an incumbent that
     * asks for it. Either side that fails tells the other why.
     */
    private static void proveSecret(WireChannel wire, SharedSecret secret, String nonce, Message.Welcome welcome,
                                    Path path) throws IOException {
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
            throw new HandoffRejectedException(HandoffResult.Outcome.REFUSED, problem);
        }
        if (secret != null) {
            wire.send(new Message.Proof(secret.successorProof(nonce, welcome.nonce())));
        }
    }

    private static Inheritance receiveManifest(WireChannel wire, SessionConfig config) throws IOException {
        try (WireChannel.Received<Message> received = wire.receive(config.stepTimeout(), Message.Handover.class,
                Message.Refused.class)) {
            if (received.message() instanceof Message.Refused refused) {
                throw new HandoffRejectedException(HandoffResult.Outcome.REFUSED, "incumbent refused: " + refused.reason());
            }
            Message.Handover handover = (Message.Handover) received.message();
            List<FileDescriptor> fds = received.fds().takeAll();
            try {
                Manifest manifest = ManifestJson.fromTree(handover.manifest());
                List<FdDescription> descriptions = ManifestValidator.validate(manifest, fds);
                return new Inheritance(manifest, fds, descriptions);
            } catch (IOException | RuntimeException e) {
                Fds.closeQuietly(fds);
                tellFailed(wire, e.getMessage());
                throw e;
            }
        }
    }

    private static void tellFailed(WireChannel wire, String reason) {
        try {
            wire.send(new Message.Failed(reason));
        } catch (IOException e) {
            log.debug("could not report the failure to the incumbent", e);
        }
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
     * Says READY; returns how long the handoff took from connecting to now. With
     * {@code adoptsConnections} the incumbent may then hand over established connections, which
     * {@link #receiveConnections(ConnectionHandler)} takes.
     */
    public HandoffResult ready(boolean adoptsConnections) throws IOException {
        wire.send(new Message.Ready(ProcessHandle.current().pid(),
                adoptsConnections ? List.of(Message.CONNECTIONS) : List.of()));
        return HandoffResult.of(HandoffResult.Outcome.SUCCEEDED, "ok", welcome.pid(), startNanos,
                inheritance.manifest().fdCount());
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
        while (true) {
            try (WireChannel.Received<Message> received = wire.receive(Duration.ZERO, Message.Connections.class,
                    Message.Goodbye.class)) {
                if (received.message() instanceof Message.Goodbye goodbye) {
                    log.debug("incumbent said goodbye: {}", goodbye.reason());
                    return;
                }
                if (!adoptBatch((Message.Connections) received.message(), received.fds(), handler)) {
                    return;
                }
            } catch (FdChannelException e) {
                log.debug("incumbent went away: {}", e.getMessage());
                return;
            } catch (IOException e) {
                log.warn("unexpected message from the incumbent after READY: {}", e.getMessage());
                return;
            }
        }
    }

    /** False when the answer could not be sent: then nothing of the batch was adopted. */
    private boolean adoptBatch(Message.Connections batch, FdMessage fds, ConnectionHandler handler) {
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
            if (PeerProcess.hasExited(incumbentPid, EXIT_WAIT)) {
                // Nobody else holds them any more: serving them is the only way not to lose them.
                log.warn("the incumbent (pid {}) died before it heard our answer; keeping its {} connections",
                        incumbentPid, channels.size());
                handOverAll(adoptedEntries, channels, handler);
                return false;
            }
            // The incumbent did not hear that we took them, so it keeps them: ours must go, unread.
            log.warn("could not confirm {} handed-over connections; the incumbent keeps them: {}", channels.size(),
                    e.getMessage());
            channels.forEach(SuccessorSession::closeQuietly);
            return false;
        }
        log.debug("adopted {} connections in {} ms", channels.size(), (System.nanoTime() - start) / 1e6);
        handOverAll(adoptedEntries, channels, handler);
        return true;
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
