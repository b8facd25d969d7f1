package dev.handoff.core.fd;

import dev.handoff.core.channel.Channels;
import dev.handoff.core.testing.OpenFds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.FileDescriptor;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A lifeline over a real Unix socket pair: the peer's end stands for the peer's process. */
@Timeout(60)
class PeerLifelineTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path temp;

    @Test
    void aPeerThatClosesItsEndIsGoneAndOneThatKeepsItIsNot() throws Exception {
        OpenFds before = OpenFds.snapshot();
        SocketChannel[] pair = pair();
        try (SocketChannel ours = pair[0]; SocketChannel peer = pair[1]) {
            PeerLifeline lifeline = PeerLifeline.watch(copy(ours), "peer");
            assertFalse(lifeline.isGone(Duration.ofMillis(100)), "alive and silent is not gone");
            peer.close();
            assertTrue(lifeline.isGone(WAIT));
            lifeline.close();
        }
        before.assertNoLeak();
    }

    /** The reset a peer leaves when it exits without reading what was sent to it ends the lifeline too. */
    @Test
    void aPeerThatExitsWithUnreadDataIsGone() throws Exception {
        OpenFds before = OpenFds.snapshot();
        SocketChannel[] pair = pair();
        SocketChannel ours = pair[0];
        try (SocketChannel peer = pair[1]) {
            ours.write(ByteBuffer.wrap(new byte[]{1, 2, 3})); // never read by the peer
            PeerLifeline lifeline = PeerLifeline.watch(copy(ours), "peer");
            peer.close();
            assertTrue(lifeline.isGone(WAIT));
            lifeline.close();
        } finally {
            ours.close();
        }
        before.assertNoLeak();
    }

    /** Closing stops the watch at once and closes this process's copy, not the socket the peer shares. */
    @Test
    void closingWhileThePeerLivesClosesOnlyOurDescriptorAndDoesNotEndThePeersSocket() throws Exception {
        OpenFds before = OpenFds.snapshot();
        SocketChannel[] pair = pair();
        SocketChannel ours = pair[0];
        try (SocketChannel peer = pair[1]) {
            PeerLifeline lifeline = PeerLifeline.watch(copy(ours), "peer");
            lifeline.close();
            assertFalse(lifeline.isGone(Duration.ZERO));
            // The shared socket still works both ways: nothing was shut down.
            assertEquals(7, roundTrip(ours, peer, (byte) 7));
            assertEquals(8, roundTrip(peer, ours, (byte) 8));
        } finally {
            ours.close();
        }
        before.assertNoLeak();
    }

    /** A connected pair of Unix sockets, through a listening one that is gone once they are made. */
    private SocketChannel[] pair() throws IOException {
        Path path = temp.resolve("pair-" + System.nanoTime() + ".sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(path));
            SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(path));
            return new SocketChannel[]{client, server.accept()};
        } finally {
            Files.deleteIfExists(path);
        }
    }

    private static int roundTrip(SocketChannel from, SocketChannel to, byte value) throws IOException {
        from.write(ByteBuffer.wrap(new byte[]{value}));
        ByteBuffer received = ByteBuffer.allocate(1);
        to.read(received);
        return received.get(0);
    }

    /** The lifeline owns what it watches: a copy, as a received descriptor would be. */
    private static FileDescriptor copy(SocketChannel channel) throws IOException {
        return FileDescriptorCast.duplicating(Channels.fileDescriptor(channel)).getFileDescriptor();
    }
}
