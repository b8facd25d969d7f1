package dev.handoff.spring.tomcat;

import dev.handoff.core.Connection;
import dev.handoff.core.Handoff;
import dev.handoff.spring.MovableConnections;
import org.apache.coyote.http11.upgrade.UpgradeProcessorInternal;
import org.apache.tomcat.util.net.Acceptor;
import org.apache.tomcat.util.net.NioChannel;
import org.apache.tomcat.util.net.NioEndpoint;
import org.apache.tomcat.util.net.SecureNioChannel;
import org.apache.tomcat.util.net.SocketBufferHandler;
import org.apache.tomcat.util.net.SocketEvent;
import org.apache.tomcat.util.net.SocketWrapperBase;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * A {@link NioEndpoint} whose server socket is the one the {@link Handoff} gives it (the predecessor's,
 * or one the Handoff bound fresh; Tomcat keeps the channel in a private field and has no other way in),
 * and whose connections move: it releases each at its quiet point (no request under way, nothing left to
 * write, so nothing of it lives in Tomcat but the bytes read and not parsed) and adopts the ones handed
 * to it as its acceptor would a new one.
 */
public class HandoffNioEndpoint extends NioEndpoint {

    /** What a read event on a connection comes to while connections are released. */
    enum Step { RELEASED, IGNORE, PROCESS }

    private static final Field SERVER_SOCKET;
    private static final Field NET_IN_BUFFER = secureChannelField("netInBuffer");
    private static final Field SNI_COMPLETE = secureChannelField("sniComplete");
    private static volatile SocketChannel detached;
    /** Set on a worker whose request ended while connections are released, until its next empty read. */
    private static final ThreadLocal<Boolean> REQUEST_ENDED = new ThreadLocal<>();
    private volatile Handoff handoff;
    private volatile String listener;
    private volatile boolean acceptStopped;
    private volatile boolean goawaySent;
    private volatile Consumer<Connection> releaseTo;
    private final Set<SocketWrapperBase<NioChannel>> woken = ConcurrentHashMap.newKeySet();
    private final Set<SocketWrapperBase<NioChannel>> toldGoingAway = ConcurrentHashMap.newKeySet();

    static {
        try {
            SERVER_SOCKET = NioEndpoint.class.getDeclaredField("serverSock");
            SERVER_SOCKET.setAccessible(true);
        } catch (NoSuchFieldException e) {
            throw new ExceptionInInitializerError("this Tomcat's NioEndpoint has no 'serverSock' field: " + e);
        }
    }

    void listenOn(Handoff value, String name) {
        handoff = value;
        listener = name;
    }

    String listener() {
        return listener;
    }

    @Override
    public void setHandler(Handler<NioChannel> handler) {
        super.setHandler(new QuietPointHandler(handler, this));
    }

    boolean isReleasing() {
        return releaseTo != null;
    }

    /**
     * A request ended on this worker, which goes on to read the connection's next one in Tomcat's keep-alive
     * loop. (Over TLS nothing moves, and its channels read as Tomcat's do.)
     */
    void requestEnded() {
        if (!isSSLEnabled()) {
            REQUEST_ENDED.set(Boolean.TRUE);
        }
    }

    /** The connection's event is over on this worker: a mark its reads did not take is for nobody else. */
    void eventEnded() {
        REQUEST_ENDED.remove();
    }

    /**
     * Whether a read into {@code dst} reads nothing: the first read into an empty buffer after a request
     * ended on this worker, while connections are released. That is the read of the next request's first
     * bytes, nothing of it read yet: the processor takes the empty read as a client that has not spoken,
     * and hands the connection back to the poller between requests (Tomcat's read buffer is empty too, or
     * its bytes would have been taken before the socket is read). A request that does not go on (its
     * connection closes) leaves the mark until its event ends ({@link #eventEnded}).
     */
    boolean holdsBack(ByteBuffer dst) {
        if (dst.position() != 0 || !isReleasing() || REQUEST_ENDED.get() == null) {
            return false;
        }
        REQUEST_ENDED.remove();
        return true;
    }

    @Override
    protected NioChannel createChannel(SocketBufferHandler buffers) {
        return isSSLEnabled() ? super.createChannel(buffers) : new QuietPointChannel(buffers, this);
    }

    /** From now on connections at their quiet point leave Tomcat for {@code sink}. */
    void release(Consumer<Connection> sink) {
        releaseTo = sink;
    }

    /** Stops releasing; connections still here are served to their end. */
    void keep() {
        releaseTo = null;
        woken.clear();
    }

    /**
     * Runs a read event for each connection with no request under way, so that one idle since before the
     * drain reaches its quiet point now (the event reads nothing: the release happens before a read). It
     * runs on the calling thread, under the connection's lock like any event: a wake-up either releases
     * the connection or is ignored, it never starts a request, and a thousand of them handed to the
     * executor would make it start a thread each. A connection whose lock is taken has a request under
     * way on a worker (Tomcat takes the processor off the connection while it runs one, so the processor
     * cannot tell): waiting for that lock would hold every other connection's move up until the request
     * ends, so such a connection is left for a later wake-up, or for its own next read event.
     */
    void wakeIdle() {
        for (SocketWrapperBase<NioChannel> wrapper : connections.values()) {
            ReentrantLock lock = wrapper.getLock();
            if (wrapper.getCurrentProcessor() == null && !wrapper.isClosed() && lock.tryLock()) {
                try {
                    if (woken.add(wrapper)) {
                        processSocket(wrapper, SocketEvent.OPEN_READ, false);
                    }
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    /**
     * A read event while releasing, on a worker that holds the connection's lock: a connection at its quiet
     * point leaves Tomcat; a wake-up that finds a request under way is dropped (Tomcat's own events on it
     * still come); anything else is Tomcat's to process.
     */
    Step atReadEvent(SocketWrapperBase<NioChannel> wrapper) {
        boolean wakeUp = woken.remove(wrapper);
        Consumer<Connection> sink = releaseTo;
        if (sink == null || !isQuiet(wrapper)) {
            return wakeUp ? Step.IGNORE : Step.PROCESS;
        }
        NioChannel nio = wrapper.getSocket();
        SocketChannel channel = nio.getIOChannel();
        ByteBuffer unread = unreadBytes(wrapper.getSocketBufferHandler());
        try {
            // First of all: from here on, whoever closes the wrapper (the poller meeting the cancelled key
            // below, for one) closes a stand-in, never the connection, which a close while registered would
            // shut down for the successor too.
            nio.reset(detached(), (NioSocketWrapper) wrapper);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        SelectionKey key = channel.keyFor(getPoller().getSelector());
        if (key != null) {
            key.attach(null); // the poller skips it from now on, and drops the key at its next pass
            key.cancel();
        }
        // Queued for the move before Tomcat stops counting it: the drain ends when nothing is open or queued.
        sink.accept(new Connection(listener, channel, null, unread));
        // Only this wrapper: one released as moving ended may already be back, adopted under the same key.
        connections.remove(channel, wrapper);
        wrapper.close(); // Tomcat forgets it: counted down, marked closed for any event still queued
        getPoller().getSelector().wakeup();
        return Step.RELEASED;
    }

    private boolean isQuiet(SocketWrapperBase<NioChannel> wrapper) {
        return !isSSLEnabled() && wrapper.getCurrentProcessor() == null && !wrapper.hasDataToWrite()
                && !wrapper.isClosed();
    }

    private static ByteBuffer unreadBytes(SocketBufferHandler buffers) {
        buffers.configureReadBufferForRead();
        ByteBuffer read = buffers.getReadBuffer();
        ByteBuffer copy = ByteBuffer.allocate(read.remaining());
        copy.put(read).flip();
        return copy;
    }

    /** A closed channel that stands in for a released connection inside Tomcat's objects. */
    private static SocketChannel detached() throws IOException {
        SocketChannel placeholder = detached;
        if (placeholder == null) {
            placeholder = SocketChannel.open();
            placeholder.close();
            detached = placeholder;
        }
        return placeholder;
    }

    /**
     * Takes a connection in as the acceptor takes a new one, its unread bytes in the read buffer before
     * the poller sees it; with unread bytes, a read event is sent at once (the client may say nothing more).
     */
    void adopt(Connection connection) {
        SocketChannel channel = connection.channel();
        ByteBuffer unread = connection.unread();
        boolean counted = false;
        try {
            if (unread.remaining() > getSocketProperties().getAppReadBufSize()) {
                throw new IOException(unread.remaining() + " unread bytes do not fit the read buffer ("
                        + getSocketProperties().getAppReadBufSize() + ")");
            }
            countUpOrAwaitConnection();
            counted = true;
            NioChannel nio = createChannel(new SocketBufferHandler(getSocketProperties().getAppReadBufSize(),
                    getSocketProperties().getAppWriteBufSize(), getSocketProperties().getDirectBuffer()));
            NioSocketWrapper wrapper = new NioSocketWrapper(nio, this);
            nio.reset(channel, wrapper);
            connections.put(channel, wrapper);
            channel.configureBlocking(false);
            getSocketProperties().setProperties(channel.socket());
            wrapper.setReadTimeout(getConnectionTimeout());
            wrapper.setWriteTimeout(getConnectionTimeout());
            wrapper.setKeepAliveLeft(getMaxKeepAliveRequests());
            if (unread.hasRemaining()) {
                wrapper.unRead(unread);
            }
            getPoller().register(wrapper);
            if (unread.hasRemaining()) {
                processSocket(wrapper, SocketEvent.OPEN_READ, true);
            }
        } catch (IOException | RuntimeException | InterruptedException e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            getLog().warn("could not adopt the connection from " + remote(channel) + "; closing it", e);
            connections.remove(channel);
            if (counted) {
                destroySocket(channel);
            } else {
                closeQuietly(channel);
            }
        }
    }

    /** Connections open here that can never move, by reason. */
    Map<String, Integer> unmovable() {
        Map<String, Integer> reasons = new TreeMap<>();
        for (SocketWrapperBase<NioChannel> wrapper : connections.values()) {
            String reason = isSSLEnabled() ? "tls" : UpgradedConnections.kind(wrapper.getCurrentProcessor());
            if (reason != null) {
                reasons.merge(reason, 1, Integer::sum);
            }
        }
        return reasons;
    }

    /**
     * HTTP/2 connections get a GOAWAY: what Tomcat tells its processors when it pauses, without pausing the
     * endpoint (a paused endpoint answers HTTP/1.1 requests with 503). Tomcat itself sends the final
     * GOAWAY only when a client opens another stream, and closes the connection only at its keep-alive
     * timeout; so each one whose streams are all done is timed out now, which sends the final GOAWAY (the
     * last stream it processed: a later one is the client's to retry) and closes it. That runs here, under
     * the connection's lock, right after the check: no read can open a stream in between. (Tomcat's own
     * {@code timeoutAsync} checks its count of active streams on this thread and closes later on another,
     * after a read may have opened one; and the count drops before a stream's last DATA frame is written.)
     * One whose lock is taken is busy reading or writing: it is left for a later call. A WebSocket is told
     * the server goes away, once, on a worker (writing the Close waits while its client does not read), and
     * closes when its client answers.
     */
    void closeUnmovable() {
        if (!goawaySent) {
            goawaySent = true;
            getHandler().pause();
        }
        for (SocketWrapperBase<NioChannel> wrapper : connections.values()) {
            if (!(wrapper.getCurrentProcessor() instanceof UpgradeProcessorInternal processor)) {
                continue;
            }
            Object webSocket = UpgradedConnections.webSocket(processor);
            if (webSocket != null) {
                if (toldGoingAway.add(wrapper)) {
                    try {
                        getExecutor().execute(() -> goAway(webSocket));
                    } catch (RejectedExecutionException full) {
                        toldGoingAway.remove(wrapper); // a later call tries again
                    }
                }
                continue;
            }
            ReentrantLock lock = wrapper.getLock();
            if (lock.tryLock()) {
                try { // the processor is read again under the lock: it may have changed or gone meanwhile
                    Object http2 = UpgradedConnections.http2(wrapper.getCurrentProcessor());
                    if (http2 != null && !wrapper.isClosed() && UpgradedConnections.streamsDone(http2)) {
                        processSocket(wrapper, SocketEvent.TIMEOUT, false);
                    }
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    /**
     * Connections between two requests, by {@link #isIdle}, and not locked: a request running on a worker
     * holds the lock, with the processor taken off the connection.
     */
    int idleConnections() {
        int idle = 0;
        for (SocketWrapperBase<NioChannel> wrapper : connections.values()) {
            if (isIdle(wrapper) && !wrapper.getLock().isLocked()) {
                idle++;
            }
        }
        return idle;
    }

    /**
     * Closes the connections that are idle, under the connection's lock (no read can begin meanwhile: Tomcat
     * reads under it) and only if nothing has come in from the client since; over TLS the close sends a
     * close_notify. One whose lock is taken is busy: it is left for a later call.
     */
    void closeIdleConnections() {
        for (SocketWrapperBase<NioChannel> wrapper : connections.values()) {
            ReentrantLock lock = wrapper.getLock();
            if (isIdle(wrapper) && lock.tryLock()) {
                try {
                    if (isIdle(wrapper) && MovableConnections.nothingToRead(wrapper.getSocket().getIOChannel())) {
                        wrapper.close();
                    }
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    /**
     * Between two requests, or before the first one: no processor (an HTTP/2 or WebSocket connection keeps
     * its own, and so does a request waiting for more of itself; one running on a worker has it taken off,
     * and holds the connection's lock instead), nothing read and not parsed (over TLS, decrypted or still
     * encrypted: part of a record is the start of a request, or of the client's next handshake message),
     * nothing left to write. Over TLS, its handshake done, or not begun (a client that connected and has
     * sent nothing yet, which waits as an idle one does); not one under way, whose client waits for the
     * server's answer or is about to send its next message, and whose close fails a handshake that clients
     * seldom retry.
     */
    private static boolean isIdle(SocketWrapperBase<NioChannel> wrapper) {
        if (wrapper.getCurrentProcessor() != null || wrapper.isClosed()
                || !wrapper.getSocketBufferHandler().isReadBufferEmpty()) {
            return false;
        }
        if (wrapper.getSocket() instanceof SecureNioChannel tls) {
            return encryptedBytesHeld(tls) == 0
                    && (tls.isHandshakeComplete() ? !wrapper.hasDataToWrite() : !handshakeBegun(tls));
        }
        return !wrapper.hasDataToWrite();
    }

    /**
     * What a TLS channel has read and not decrypted (a protected field, filled from 0 and compacted after each
     * unwrap); unknown counts as some.
     */
    private static int encryptedBytesHeld(SecureNioChannel tls) {
        try {
            return NET_IN_BUFFER == null ? 1 : ((ByteBuffer) NET_IN_BUFFER.get(tls)).position();
        } catch (IllegalAccessException | RuntimeException e) {
            return 1;
        }
    }

    /**
     * Whether the handshake has begun: the client's hello is read (a protected field; unknown counts as
     * begun), or part of it (then held in the channel's input buffer). Before it the server has written
     * nothing, though Tomcat's count of bytes left to write is its empty output buffer's whole capacity.
     */
    private static boolean handshakeBegun(SecureNioChannel tls) {
        try {
            return SNI_COMPLETE == null || SNI_COMPLETE.getBoolean(tls);
        } catch (IllegalAccessException | RuntimeException e) {
            return true;
        }
    }

    private static Field secureChannelField(String name) {
        try {
            Field field = SecureNioChannel.class.getDeclaredField(name);
            field.setAccessible(true);
            return field;
        } catch (NoSuchFieldException | RuntimeException e) {
            LoggerFactory.getLogger(HandoffNioEndpoint.class).warn("this Tomcat's TLS channel is not the one Handoff "
                    + "knows: idle TLS connections (or those whose client has sent nothing) are closed only at the "
                    + "drain's deadline", e);
            return null;
        }
    }

    private void goAway(Object webSocket) {
        try {
            UpgradedConnections.goAway(webSocket);
        } catch (IOException | RuntimeException e) {
            getLog().debug("could not tell a WebSocket client the server goes away", e);
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // the connection is gone either way
        }
    }

    private static String remote(SocketChannel channel) {
        try {
            return String.valueOf(channel.getRemoteAddress());
        } catch (IOException e) {
            return "(closed)";
        }
    }

    /**
     * Stops accepting by closing this process's copy of the listening socket, and nothing else. Tomcat's
     * own {@code closeServerSocketGraceful()} also turns keep-alive off for connections whose last
     * response already promised it (a client's next request on them would meet the close), and stopping
     * the acceptor first would make it destroy a connection it accepted in the meantime. The close wakes
     * the acceptor blocked in accept(); the successor's copy keeps the socket listening.
     */
    void stopAccepting() {
        acceptStopped = true;
        try {
            doCloseServerSocket();
        } catch (IOException e) {
            getLog().debug("closing the server socket failed", e);
        }
    }

    /**
     * The acceptor wakes from the close in {@link #stopAccepting()} with an exception that Tomcat would log
     * as a failure while the endpoint runs; it waits here until Tomcat stops the endpoint, and then ends
     * quietly as Tomcat's own acceptor does at shutdown. (An acceptor that was between two accepts when
     * the socket closed finds the endpoint's channel gone: Tomcat's code then fails with a
     * NullPointerException, treated the same way.)
     */
    @Override
    protected SocketChannel serverSocketAccept() throws Exception {
        try {
            return super.serverSocketAccept();
        } catch (ClosedChannelException | NullPointerException e) {
            while (acceptStopped && isRunning() && !isPaused()) {
                Thread.sleep(10);
            }
            if (acceptStopped && isRunning()) {
                // Tomcat pauses the endpoint to stop it, then waits up to a second for the acceptor to leave
                // its running state. An exception now would be logged as a failure; an unconnected stand-in
                // is destroyed by the paused acceptor at once, which then waits as paused.
                return SocketChannel.open();
            }
            throw e;
        }
    }

    /**
     * Tomcat wakes a blocked acceptor by connecting to its own port, which after {@link #stopAccepting()}
     * is the successor's. Here the acceptor is not blocked: it notices the pause by itself within
     * milliseconds, and this only waits for that.
     */
    @Override
    protected void unlockAccept() {
        if (!acceptStopped) {
            super.unlockAccept();
            return;
        }
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        while (acceptor != null && acceptor.getState() == Acceptor.AcceptorState.RUNNING && System.nanoTime() < until) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    protected void initServerSocket() throws Exception {
        Handoff current = handoff;
        if (current == null) {
            throw new IllegalStateException("no Handoff was given to this endpoint: it is configured by HandoffTomcatCustomizer");
        }
        InetSocketAddress address = getAddress() == null ? new InetSocketAddress(getPortWithOffset())
                : new InetSocketAddress(getAddress(), getPortWithOffset());
        ServerSocketChannel channel = current.listen(listener, address);
        channel.configureBlocking(true); // as Tomcat's own: its acceptor blocks in accept()
        SERVER_SOCKET.set(this, channel);
    }
}
