package dev.handoff.core.fd;

import dev.handoff.core.internal.JdkInternals;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.newsclub.net.unix.FileDescriptorCast;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Sends and receives messages, each a byte payload plus any number of file descriptors, over a connected
 * Unix domain stream socket (SCM_RIGHTS).
 *
 * <p>On the wire a message is one or more chunks. Each chunk is a 12-byte header (magic {@code HFD1}, a
 * flags byte whose bit 0 marks the last chunk, a reserved byte, the number of descriptors as an unsigned
 * 16-bit value, the payload length as a 32-bit value, all big-endian), the descriptors attached to the
 * header's bytes, then the payload (only in the last chunk). A message with more descriptors than fit in
 * one SCM_RIGHTS message (253 in the kernel) is split into chunks.
 *
 * <p>Descriptors that arrive belong to the returned {@link FdMessage}; anything that arrives with a
 * message that is then rejected is closed before the exception is thrown.
 */
public final class FdChannel implements Closeable {

    static final int MAGIC = 0x48464431; // "HFD1"
    static final int HEADER_BYTES = 12;
    static final int FLAG_LAST = 1;
    /** How long the rest of a message may take once {@link #poll()} saw its first byte. */
    private static final Duration POLL_GRACE = Duration.ofSeconds(1);

    private final AFUNIXSocket socket;
    // A second descriptor of the same socket, for sending (made at the first send): junixsocket closes the
    // socket object whose write meets a broken pipe, and what the peer sent before it went must stay
    // readable through the first.
    private volatile AFUNIXSocket sender; // written under sendLock
    private volatile FileDescriptor senderFd; // closed here: closing a cast junixsocket socket leaves its descriptor open
    private final InputStream in;
    private final FdLimits limits;
    private final JunixsocketInternals.Receiver receiver;
    private final Object sendLock = new Object();
    private final Object receiveLock = new Object();
    private volatile int sendBatch = JunixsocketInternals.maxFdsPerMessage();
    private volatile boolean shutdown;

    FdChannel(AFUNIXSocket socket, FdLimits limits) throws IOException {
        this.socket = socket;
        this.limits = limits;
        this.receiver = JunixsocketInternals.prepare(socket);
        this.in = socket.getInputStream();
    }

    /** The sending socket, made on first use; called under sendLock. */
    private AFUNIXSocket sender() throws IOException {
        AFUNIXSocket current = sender;
        if (current == null) {
            FileDescriptor copy = duplicate(socket.getFileDescriptor());
            try {
                current = FileDescriptorCast.using(copy).as(AFUNIXSocket.class);
            } catch (IOException | RuntimeException e) {
                Fds.closeQuietly(copy);
                throw e;
            }
            senderFd = copy;
            sender = current;
            if (shutdown) { // closed meanwhile
                closeSender();
            }
        }
        return current;
    }

    /** Another descriptor for the socket under {@code fd}, close-on-exec where that can be set. */
    private static FileDescriptor duplicate(FileDescriptor fd) throws IOException {
        FileDescriptor copy = JdkInternals.duplicate(fd);
        try {
            CloseOnExec.mark(Fds.number(copy));
        } catch (RuntimeException e) {
            Fds.closeQuietly(copy);
            throw e;
        }
        return copy;
    }

    /** Connects to a listening {@link FdServer} at {@code path}. */
    public static FdChannel connect(Path path, FdLimits limits) throws IOException {
        return connect(path, limits, Duration.ZERO);
    }

    /** Connects to a listening {@link FdServer} at {@code path}, waiting at most {@code timeout} (zero: no limit). */
    public static FdChannel connect(Path path, FdLimits limits, Duration timeout) throws IOException {
        // newInstance + connect rather than connectTo: the latter leaks its socket when the connect fails.
        AFUNIXSocket socket = AFUNIXSocket.newInstance();
        try {
            socket.connect(AFUNIXSocketAddress.of(path), Math.toIntExact(Math.min(Integer.MAX_VALUE, timeout.toMillis())));
            return new FdChannel(socket, limits);
        } catch (SocketTimeoutException e) {
            socket.close();
            throw new FdChannelException(FdChannelException.Kind.TIMEOUT, "no connection to " + path + " within " + timeout, e);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    private static final java.util.concurrent.atomic.AtomicLong PAIRS = new java.util.concurrent.atomic.AtomicLong();

    /** A name in Linux's abstract namespace no other listener in this process or another uses. */
    private static AFUNIXSocketAddress pairAddress() throws IOException {
        return AFUNIXSocketAddress.inAbstractNamespace("handoff-pair-" + ProcessHandle.current().pid() + "-"
                + PAIRS.incrementAndGet() + "-" + System.nanoTime());
    }

    /**
     * A connected pair, for a parent and the child it starts; see {@link FdChannelPair}. Made by a
     * connect to a short-lived listener in Linux's abstract namespace (no file, gone on close):
     * junixsocket's own socket pair leaks two descriptors per pair in 2.11.1.
     */
    public static FdChannelPair pair(FdLimits limits) throws IOException {
        AFUNIXSocketAddress address = pairAddress();
        try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(address)) {
            AFUNIXSocket parent = AFUNIXSocket.connectTo(address);
            try {
                return new FdChannelPair(new FdChannel(parent, limits), server.accept());
            } catch (IOException | RuntimeException e) {
                parent.close();
                throw e;
            }
        }
    }

    /**
     * Sends {@code fds} through a socket pair inside this process and returns the copies that arrive
     * (the caller owns them). The descriptors take the real SCM_RIGHTS path; used to warm that path up.
     */
    public static List<FileDescriptor> roundTrip(List<FileDescriptor> fds) throws IOException {
        try (FdChannelPair pair = pair(FdLimits.DEFAULT)) {
            // Not closed itself: the pair closes the descriptor under it.
            FdChannel receiver = new FdChannel(pair.child(), FdLimits.DEFAULT);
            pair.parent().send(new byte[] {1}, fds);
            try (FdMessage message = receiver.receive(Duration.ofSeconds(5))) {
                return message.takeAll();
            }
        }
    }

    /** The channel a parent handed to this process as its standard input (see {@link FdChannelPair}). */
    public static FdChannel inheritedFromStdin(FdLimits limits) throws IOException {
        return new FdChannel(FileDescriptorCast.using(FileDescriptor.in).as(AFUNIXSocket.class), limits);
    }

    /**
     * Loads junixsocket's native library (it unpacks and links it on first use, tens of milliseconds),
     * so that a successor does not pay for it while the incumbent waits.
     */
    public static void warmUp() {
        if (!AFUNIXSocket.isSupported()) {
            throw new IllegalStateException("junixsocket cannot load its native library on this machine");
        }
    }

    /** The largest number of descriptors this process receives in one SCM_RIGHTS message. */
    public static int maxFdsPerMessage() {
        return JunixsocketInternals.maxFdsPerMessage();
    }

    /** Limits the batches this side sends to what the peer said it can receive. */
    public void limitSendBatch(int peerMaxFdsPerMessage) {
        if (peerMaxFdsPerMessage < 1) {
            throw new IllegalArgumentException("batch size must be positive: " + peerMaxFdsPerMessage);
        }
        sendBatch = Math.min(JunixsocketInternals.KERNEL_MAX_FDS, peerMaxFdsPerMessage);
    }

    public FdLimits limits() {
        return limits;
    }

    /** Who is at the other end, as the kernel saw it when the connection was made. */
    public PeerCredentials peer() throws IOException {
        AFUNIXSocketCredentials credentials = socket.getPeerCredentials();
        return new PeerCredentials(credentials.getPid(), credentials.getUid(), credentials.getGid());
    }

    /**
     * Sends one message, all of it within {@code timeout} (zero: no limit). The descriptors stay open here:
     * the kernel gives the peer its own copies. A peer that does not take the message in time (it stopped
     * reading, or reads a byte at a time) makes this fail with {@link FdChannelException.Kind#TIMEOUT}, and
     * the traffic ends both ways ({@link #endTraffic()}): part of a message may have gone, so nothing more
     * can follow it.
     */
    public void send(byte[] payload, List<FileDescriptor> fds, Duration timeout) throws IOException {
        if (payload.length > limits.maxPayloadBytes()) {
            throw new FdChannelException(FdChannelException.Kind.TOO_LARGE, "payload of " + payload.length
                    + " bytes exceeds the limit of " + limits.maxPayloadBytes());
        }
        if (fds.size() > limits.maxFds()) {
            throw new FdChannelException(FdChannelException.Kind.TOO_LARGE, fds.size()
                    + " file descriptors exceed the limit of " + limits.maxFds());
        }
        synchronized (sendLock) {
            AFUNIXSocket sender = sender();
            OutputStream out = sender.getOutputStream();
            SendDeadline deadline = SendDeadline.start(this, timeout);
            try {
                int batch = sendBatch;
                int sent = 0;
                do {
                    int count = Math.min(batch, fds.size() - sent);
                    boolean last = sent + count == fds.size();
                    byte[] chunk = chunk(last, count, last ? payload : new byte[0]);
                    if (count > 0) {
                        sender.setOutboundFileDescriptors(fds.subList(sent, sent + count).toArray(new FileDescriptor[0]));
                    }
                    out.write(chunk);
                    sent += count;
                } while (sent < fds.size());
                out.flush();
            } catch (IOException e) {
                if (deadline.expired() || e instanceof SocketTimeoutException) {
                    endTraffic();
                    throw new FdChannelException(FdChannelException.Kind.TIMEOUT, "the peer did not take the "
                            + "message within " + timeout, e);
                }
                throw e;
            } finally {
                deadline.cancel();
                if (!sender.isClosed()) {
                    sender.setOutboundFileDescriptors((FileDescriptor[]) null);
                }
            }
        }
    }

    /** Like {@link #send(byte[], List, Duration)} with no time limit. */
    public void send(byte[] payload, List<FileDescriptor> fds) throws IOException {
        send(payload, fds, Duration.ZERO);
    }

    public void send(byte[] payload) throws IOException {
        send(payload, List.of());
    }

    /** Waits for the next message, for as long as it takes. */
    public FdMessage receive() throws IOException {
        return receive(Duration.ZERO);
    }

    /**
     * Waits at most {@code timeout} (zero: no limit) for the next message, all of it: a peer that trickles
     * its bytes, or sends chunk after chunk, does not get more time with each one.
     */
    public FdMessage receive(Duration timeout) throws IOException {
        synchronized (receiveLock) {
            long deadline = timeout.isZero() ? 0 : System.nanoTime() + timeout.toNanos();
            List<FileDescriptor> fds = new ArrayList<>();
            try {
                return receiveChunks(fds, deadline);
            } catch (IOException | RuntimeException | Error e) {
                Fds.closeQuietly(fds);
                throw e;
            } finally {
                if (deadline != 0 && !socket.isClosed()) {
                    setReadTimeout(Duration.ZERO);
                }
            }
        }
    }

    /**
     * Returns a message if one has started to arrive, without waiting for one to start. Once its first
     * byte is here the rest is read as {@link #receive()} would. End of stream shows in the next
     * {@link #receive()}.
     */
    public Optional<FdMessage> poll() throws IOException {
        synchronized (receiveLock) {
            if (in.available() == 0) {
                return Optional.empty();
            }
            return Optional.of(receive(POLL_GRACE));
        }
    }

    /** Whether bytes of a message are waiting to be read. */
    public boolean hasQueued() {
        try {
            return in.available() > 0;
        } catch (IOException e) {
            return false;
        }
    }

    /** Sets how long a receive waits; zero waits for ever. */
    public void setReadTimeout(Duration timeout) throws SocketException {
        socket.setSoTimeout(Math.toIntExact(Math.max(0, timeout.toMillis())));
    }

    /**
     * Ends the connection from any thread: the peer sees end of stream and a thread blocked in
     * {@link #receive()} here wakes with {@link FdChannelException.Kind#CLOSED}. (It also closes: closing is
     * what wakes a blocked reader on every JDK.)
     */
    public void shutdown() {
        shutdown = true;
        shutdownBothWays();
        try {
            close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    /**
     * Stops the traffic both ways without closing: the peer's sends fail from now on (the kernel serializes
     * this with each of its sends), while what it sent before stays queued here for {@link #poll()}.
     */
    public void endTraffic() {
        shutdownBothWays();
    }

    /**
     * Through the socket's channel: on JDK 25 {@code Socket.shutdownInput} refuses an accepted junixsocket
     * socket as "not connected" and shuts nothing down.
     */
    private void shutdownBothWays() {
        try {
            socket.getChannel().shutdownInput();
            socket.getChannel().shutdownOutput();
        } catch (IOException ignored) {
            // already shut down or closed
        }
    }

    @Override
    public void close() throws IOException {
        shutdown = true;
        try {
            closeSender();
        } finally {
            socket.close();
        }
    }

    private void closeSender() {
        AFUNIXSocket current = sender;
        if (current != null) {
            try {
                current.close();
            } catch (IOException ignored) {
                // closed already (a broken pipe closes it)
            }
            Fds.closeQuietly(senderFd);
        }
    }

    private FdMessage receiveChunks(List<FileDescriptor> fds, long deadline) throws IOException {
        return FrameDecoder.decode(new FrameDecoder.Source() {
            @Override
            public int read(byte[] buffer, int offset, int length, List<FileDescriptor> arrived, String stalled)
                    throws IOException {
                if (deadline != 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw timedOut(stalled, null);
                    }
                    try {
                        socket.setSoTimeout(Math.toIntExact(Math.max(1, Math.min(Integer.MAX_VALUE, left / 1_000_000))));
                    } catch (SocketException e) {
                        throw shutdown ? new FdChannelException(FdChannelException.Kind.CLOSED, "channel was shut down", e) : e;
                    }
                }
                return readSocket(buffer, offset, length, arrived, stalled);
            }

            @Override
            public String endOfStream() {
                return shutdown ? "channel was shut down" : "peer closed the channel";
            }
        }, limits, fds);
    }

    private int readSocket(byte[] buffer, int offset, int length, List<FileDescriptor> fds, String stalled)
            throws IOException {
        try {
            return in.read(buffer, offset, length);
        } catch (SocketTimeoutException e) {
            throw timedOut(stalled, e);
        } catch (SocketException e) {
            if (shutdown) {
                throw new FdChannelException(FdChannelException.Kind.CLOSED, "channel was shut down", e);
            }
            if (String.valueOf(e.getMessage()).contains("No buffer space")) {
                throw new FdChannelException(FdChannelException.Kind.TRUNCATED,
                        "the kernel truncated the file descriptors of a message (MSG_CTRUNC)", e);
            }
            throw e;
        } finally {
            adoptReceived(fds);
        }
    }

    private static FdChannelException timedOut(String stalled, SocketTimeoutException cause) {
        return new FdChannelException(FdChannelException.Kind.TIMEOUT, stalled == null ? "no message arrived in time"
                : "message stalled after " + stalled, cause);
    }

    private void adoptReceived(List<FileDescriptor> fds) throws IOException {
        for (FileDescriptor received : socket.getReceivedFileDescriptors()) {
            FileDescriptor adopted = receiver.adopt(received);
            fds.add(adopted);
            CloseOnExec.mark(Fds.number(adopted));
        }
    }

    private static byte[] chunk(boolean last, int fdCount, byte[] payload) {
        ByteBuffer chunk = ByteBuffer.allocate(HEADER_BYTES + payload.length);
        chunk.putInt(MAGIC).put((byte) (last ? FLAG_LAST : 0)).put((byte) 0).putShort((short) fdCount)
                .putInt(payload.length).put(payload);
        return chunk.array();
    }

    /**
     * Ends the traffic when a send overruns its time: junixsocket applies one timeout to each write call,
     * which a peer that reads a byte at a time keeps resetting.
     */
    private static final class SendDeadline {
        private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread thread = new Thread(task, "handoff-send-deadline");
            thread.setDaemon(true);
            return thread;
        });
        private static final SendDeadline NONE = new SendDeadline(null);

        private final ScheduledFuture<?> expiry;
        private volatile boolean expired;

        private SendDeadline(FdChannel channel, Duration timeout) {
            this.expiry = TIMER.schedule(() -> {
                expired = true;
                channel.endTraffic();
            }, timeout.toNanos(), TimeUnit.NANOSECONDS);
        }

        private SendDeadline(ScheduledFuture<?> none) {
            this.expiry = none;
        }

        static SendDeadline start(FdChannel channel, Duration timeout) {
            return timeout.isZero() ? NONE : new SendDeadline(channel, timeout);
        }

        boolean expired() {
            return expired;
        }

        void cancel() {
            if (expiry != null) {
                expiry.cancel(false);
            }
        }
    }
}
