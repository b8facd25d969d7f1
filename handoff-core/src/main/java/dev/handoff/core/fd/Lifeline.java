package dev.handoff.core.fd;

import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * This process's sign of life for its peers, one that crosses pid namespaces (where {@code SO_PEERCRED}
 * says pid 0 and /proc shows nothing): a connected socket pair of which one end never leaves this process
 * and the other is sent to each peer ({@link #peerEnd()}). A peer reading its copy sees end of stream
 * exactly when that kept end is closed: when this process exits, whatever way it dies, or
 * {@link #close()}s it ({@link PeerLifeline}). The JDK closes every descriptor above 2 in a child it
 * starts, so no child keeps the end alive.
 */
public final class Lifeline implements Closeable {

    private static final SecureRandom RANDOM = new SecureRandom();

    // Both held for as long as the lifeline lives: junixsocket closes a socket once it is unreachable.
    private final AFUNIXSocket kept;
    private final AFUNIXSocket given;

    private Lifeline(AFUNIXSocket kept, AFUNIXSocket given) {
        this.kept = kept;
        this.given = given;
    }

    /** A new lifeline, made by a connect to a short-lived listener in Linux's abstract namespace. */
    public static Lifeline create() throws IOException {
        byte[] name = new byte[16];
        RANDOM.nextBytes(name);
        AFUNIXSocketAddress address = AFUNIXSocketAddress.inAbstractNamespace("handoff-lifeline-"
                + HexFormat.of().formatHex(name));
        try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(address)) {
            AFUNIXSocket kept = AFUNIXSocket.connectTo(address);
            try {
                return new Lifeline(kept, server.accept());
            } catch (IOException | RuntimeException e) {
                kept.close();
                throw e;
            }
        }
    }

    /** The end to send to a peer (it stays open here too: the kernel gives the peer its own copy). */
    public FileDescriptor peerEnd() throws IOException {
        return given.getFileDescriptor();
    }

    /** Ends the lifeline: every peer holding the other end now sees this process as gone. */
    @Override
    public void close() throws IOException {
        try {
            kept.close();
        } finally {
            given.close();
        }
    }
}
