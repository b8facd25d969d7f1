package dev.handoff.spring.tomcat;

import dev.handoff.core.Handoff;
import org.apache.tomcat.util.net.NioEndpoint;

import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;

/**
 * A {@link NioEndpoint} whose server socket is the one the {@link Handoff} gives it: the predecessor's,
 * or one the Handoff bound fresh. Tomcat keeps the channel in a private field and has no other way in.
 */
public class HandoffNioEndpoint extends NioEndpoint {

    private static final Field SERVER_SOCKET;
    private static volatile Handoff handoff;

    static {
        try {
            SERVER_SOCKET = NioEndpoint.class.getDeclaredField("serverSock");
            SERVER_SOCKET.setAccessible(true);
        } catch (NoSuchFieldException e) {
            throw new ExceptionInInitializerError("this Tomcat's NioEndpoint has no 'serverSock' field: " + e);
        }
    }

    static void use(Handoff value) {
        handoff = value;
    }

    @Override
    protected void initServerSocket() throws Exception {
        Handoff current = handoff;
        if (current == null) {
            super.initServerSocket();
            return;
        }
        InetSocketAddress address = getAddress() == null ? new InetSocketAddress(getPortWithOffset())
                : new InetSocketAddress(getAddress(), getPortWithOffset());
        ServerSocketChannel channel = current.listen("http", address);
        channel.configureBlocking(true); // as Tomcat's own: its acceptor blocks in accept()
        SERVER_SOCKET.set(this, channel);
    }
}
