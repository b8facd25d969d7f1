package dev.handoff.spring.tomcat;

import dev.handoff.core.Handoff;
import org.apache.tomcat.util.net.NioEndpoint;

import java.io.IOException;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/**
 * A {@link NioEndpoint} whose server socket is the one the {@link Handoff} gives it: the predecessor's,
 * or one the Handoff bound fresh. Tomcat keeps the channel in a private field and has no other way in.
 */
public class HandoffNioEndpoint extends NioEndpoint {

    private static final Field SERVER_SOCKET;
    private volatile Handoff handoff;
    private volatile boolean acceptStopped;

    static {
        try {
            SERVER_SOCKET = NioEndpoint.class.getDeclaredField("serverSock");
            SERVER_SOCKET.setAccessible(true);
        } catch (NoSuchFieldException e) {
            throw new ExceptionInInitializerError("this Tomcat's NioEndpoint has no 'serverSock' field: " + e);
        }
    }

    void listenOn(Handoff value) {
        handoff = value;
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
            while (acceptStopped && isRunning()) {
                Thread.sleep(50);
            }
            throw e;
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
        ServerSocketChannel channel = current.listen("http", address);
        channel.configureBlocking(true); // as Tomcat's own: its acceptor blocks in accept()
        SERVER_SOCKET.set(this, channel);
    }
}
