package dev.handoff.core;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.handoff.core.channel.Channels;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.FdServer;
import dev.handoff.core.fd.Lifeline;
import dev.handoff.core.fd.PeerCredentials;
import dev.handoff.core.manifest.Manifest;
import dev.handoff.core.session.ConnectionTransfer;
import dev.handoff.core.session.IncumbentSession;
import dev.handoff.core.session.SessionConfig;
import dev.handoff.core.session.SharedSecret;
import dev.handoff.core.session.Snapshot;
import dev.handoff.core.session.SuccessorSession;
import dev.handoff.core.session.SuccessorState;
import dev.handoff.core.wire.WireChannel;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * A whole handoff between two sessions of this process, in both roles, over a rendezvous socket of its own
 * in a private directory: hello, the secret's proofs, a listener in the manifest, READY and its
 * confirmation, one established connection handed over, goodbye, the socket path taken over. A process
 * takes over once and hands over once, so without this each side would run that code for the first time
 * (class initialization, linking, the first calls into the JDK and junixsocket) while a real successor
 * waits for it.
 */
final class Rehearsal {

    private static final Duration STEP = Duration.ofSeconds(5);
    private static final String LISTENER = "rehearsal";

    private Rehearsal() {
    }

    /**
     * Rehearses in a new directory under {@code parent}, removed again afterwards, with the secret and limits
     * of the real handoffs.
     *
     * @throws IOException the rehearsal could not run or did not end with the connection moved
     */
    static void run(Path parent, SharedSecret secret, FdLimits limits) throws IOException {
        Path directory = Files.createTempDirectory(parent, "handoff",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try (Lifeline lifeline = Lifeline.create();
             FdServer rendezvous = FdServer.bind(directory.resolve("r"), limits);
             ServerSocketChannel listener = ServerSocketChannel.open()
                     .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             SocketChannel client = SocketChannel.open(listener.getLocalAddress());
             SocketChannel accepted = listener.accept()) {
            SessionConfig config = new SessionConfig(STEP, STEP, Duration.ZERO, STEP, Set.of(PeerCredentials.ownUid()),
                    limits, secret, lifeline);
            FutureTask<ConnectionTransfer> incumbent = new FutureTask<>(() -> handOver(rendezvous, config, listener, accepted));
            Thread thread = new Thread(incumbent, "handoff-rehearsal");
            thread.setDaemon(true);
            thread.start();
            boolean adopted = takeOver(rendezvous.path(), config);
            ConnectionTransfer transfer = incumbent.get(STEP.toMillis(), TimeUnit.MILLISECONDS);
            if (!adopted || !transfer.problems().isEmpty()) {
                throw new IOException("the rehearsal's connection did not move: " + transfer.problems());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while rehearsing a handoff", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("the rehearsal's incumbent did not hand over: " + e, e);
        } finally {
            deleteTree(directory);
        }
    }

    /** The incumbent's half: the handshake up to the takeover, then the connection, then goodbye. */
    private static ConnectionTransfer handOver(FdServer rendezvous, SessionConfig config, ServerSocketChannel listener,
                                               SocketChannel accepted) throws IOException {
        IncumbentSession session = new IncumbentSession(new WireChannel(rendezvous.accept(), STEP), config, 1);
        try {
            IncumbentSession.Outcome outcome = session.run(() -> snapshot(listener), () -> null);
            if (!outcome.takenOver()) {
                throw new IOException("the rehearsal's handoff ended in " + outcome.state() + ": " + outcome.reason());
            }
            Connection connection = new Connection(LISTENER, accepted, JsonNodeFactory.instance.objectNode().put("k", 1),
                    ByteBuffer.wrap(new byte[] {1}));
            return session.handOverConnections(List.of(connection.entry()), List.of(Channels.fileDescriptor(accepted)),
                    index -> { });
        } finally {
            session.goodbye("rehearsed");
        }
    }

    /** The successor's half: inherits, says READY, adopts until goodbye, takes the path over; whether the connection came. */
    private static boolean takeOver(Path socket, SessionConfig config) throws IOException, InterruptedException {
        SuccessorSession.Attempt attempt = SuccessorSession.connect(socket, config);
        if (attempt.state() != SuccessorState.INHERITED) {
            throw new IOException("the rehearsal's successor did not inherit: " + attempt.reason(), attempt.cause());
        }
        CountDownLatch adopted = new CountDownLatch(1);
        try (SuccessorSession session = attempt.session()) {
            session.inheritance().closeUnclaimed();
            if (!session.ready(true).serves()) {
                throw new IOException("the rehearsal's READY was not confirmed");
            }
            session.receiveConnections((entry, channel) -> {
                try (channel) {
                    adopted.countDown();
                } catch (IOException e) {
                    // closed or not, it was adopted
                }
            });
        }
        FdServer.takeOver(socket, config.limits()).close();
        // The handler runs on a thread of its own once the batch is answered.
        return adopted.await(STEP.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static Snapshot snapshot(ServerSocketChannel listener) throws IOException {
        return new Snapshot(new Manifest(Manifest.SCHEMA, ProcessHandle.current().pid(), 1,
                List.of(ListenerRegistry.entryOf(LISTENER, listener, 0)), List.of(), null),
                List.of(Channels.fileDescriptor(listener)));
    }

    private static void deleteTree(Path directory) throws IOException {
        try (Stream<Path> paths = Files.walk(directory)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }
}
