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

    private final WireChannel wire;
    private final Message.Welcome welcome;
    private final Inheritance inheritance;
    private final long startNanos;

    private SuccessorSession(WireChannel wire, Message.Welcome welcome, Inheritance inheritance, long startNanos) {
        this.wire = wire;
        this.welcome = welcome;
        this.inheritance = inheritance;
        this.startNanos = startNanos;
    }

    /**
     * Asks the incumbent at {@code path} for its descriptors. Returns null when nobody listens there
     * (a cold start); throws when an incumbent is there but the handoff fails.
     */
    public static SuccessorSession connect(Path path, SessionConfig config) throws IOException {
        if (!Files.exists(path)) {
            return null;
        }
        long start = System.nanoTime();
        FdChannel channel;
        try {
            channel = FdChannel.connect(path, config.limits());
        } catch (IOException e) {
            if (FdServer.isLive(path)) {
                throw e;
            }
            log.info("no incumbent at {} (stale socket: {}); cold start", path, e.getMessage());
            return null;
        }
        WireChannel wire = new WireChannel(channel);
        try {
            PeerCredentials peer = wire.peer();
            if (!config.allowedUids().contains(peer.uid())) {
                throw new HandoffRejectedException(HandoffResult.Outcome.REFUSED, "the process at " + path + " (pid "
                        + peer.pid() + ") runs as uid " + peer.uid() + ", allowed: " + config.allowedUids());
            }
            wire.send(new Message.Hello(ProtocolVersions.SUPPORTED, ProcessHandle.current().pid(),
                    FdChannel.maxFdsPerMessage(), List.of()));
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
            channel.limitSendBatch(welcome.maxFdsPerMessage());
            Inheritance inheritance = receiveManifest(wire, config);
            return new SuccessorSession(wire, welcome, inheritance, start);
        } catch (IOException | RuntimeException e) {
            wire.close();
            throw e;
        }
    }

    private static Inheritance receiveManifest(WireChannel wire, SessionConfig config) throws IOException {
        try (WireChannel.Received<Message> received = wire.receive(config.stepTimeout(), Message.Handover.class)) {
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
            // The incumbent did not hear that we took them, so it keeps them: ours must go, unread.
            log.warn("could not confirm {} handed-over connections; the incumbent keeps them: {}", channels.size(),
                    e.getMessage());
            channels.forEach(SuccessorSession::closeQuietly);
            return false;
        }
        log.debug("adopted {} connections in {} ms", channels.size(), (System.nanoTime() - start) / 1e6);
        for (int i = 0; i < channels.size(); i++) {
            try {
                handler.adopt(adoptedEntries.get(i), channels.get(i));
            } catch (RuntimeException e) {
                log.warn("the connection handler failed; closing the connection", e);
                closeQuietly(channels.get(i));
            }
        }
        return true;
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
