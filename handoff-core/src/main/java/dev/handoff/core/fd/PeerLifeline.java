package dev.handoff.core.fd;

import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A peer's {@link Lifeline}, as received from it: a thread reads it until end of stream, which comes
 * exactly when the peer's process is gone (or let go of everything it was handed). A peer that is only
 * slow or stopped (SIGSTOP) is not gone.
 *
 * <p>The descriptor is a copy of one the peer shares with all of its peers, so it is never shut down here
 * (that would end it for all of them): the reader wakes every {@link #POLL} to see whether it should stop,
 * and closes only this process's descriptor.
 */
public final class PeerLifeline implements Closeable {

    // The poll bounds how long close() waits for the reader, which an exiting incumbent pays after its drain.
    // (A failure once blamed on this interval was the rendezvous taking its path back: FaultInjectionTest.)
    private static final Duration POLL = Duration.ofMillis(5);
    /** Failed reads in a row that make an end broken. */
    private static final int BROKEN_AFTER = 3;
    /** How long close() waits for a reader that does not end at its next poll (a loaded machine). */
    private static final Duration CLOSE_WAIT = Duration.ofMillis(200);

    private final AFUNIXSocket socket;
    private final Thread reader;
    private final CountDownLatch gone = new CountDownLatch(1);
    private volatile boolean closed;

    private PeerLifeline(AFUNIXSocket socket, String peer) {
        this.socket = socket;
        this.reader = new Thread(this::readUntilGone, "handoff-lifeline-" + peer);
        reader.setDaemon(true);
    }

    /** Watches {@code fd}, which this object owns from now on. */
    public static PeerLifeline watch(FileDescriptor fd, String peer) throws IOException {
        PeerLifeline lifeline;
        try {
            AFUNIXSocket socket = FileDescriptorCast.using(fd).as(AFUNIXSocket.class);
            socket.setSoTimeout(Math.toIntExact(POLL.toMillis()));
            lifeline = new PeerLifeline(socket, peer);
        } catch (IOException | RuntimeException e) {
            Fds.closeQuietly(fd);
            throw e;
        }
        lifeline.reader.start();
        return lifeline;
    }

    private void readUntilGone() {
        try {
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[64];
            int failures = 0;
            while (!closed) {
                try {
                    if (in.read(buffer) < 0) {
                        gone.countDown();
                        return;
                    }
                    failures = 0;
                } catch (SocketTimeoutException stillThere) {
                    failures = 0; // look at the flag again
                } catch (IOException e) {
                    // A broken end is an ended one, but a read cut short once (a signal, say) is not: calling
                    // the peer gone when it is not would let two processes serve.
                    if (++failures == BROKEN_AFTER) {
                        throw e;
                    }
                }
            }
        } catch (IOException e) {
            gone.countDown();
        } finally {
            // Only our descriptor: junixsocket's own close would shut the shared socket down.
            try {
                Fds.closeQuietly(Fds.adopt(socket.getFileDescriptor()));
            } catch (IOException alreadyClosed) {
                // nothing left to close
            }
        }
    }

    /** Whether the peer is gone, waiting up to {@code wait} for it to go (zero: as of now). */
    public boolean isGone(Duration wait) {
        try {
            return gone.await(Math.max(0, wait.toNanos()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return gone.getCount() == 0;
        }
    }

    /** Stops watching and closes this process's descriptor; the peer is not told anything. */
    @Override
    public void close() {
        closed = true;
        try {
            reader.join(CLOSE_WAIT.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
