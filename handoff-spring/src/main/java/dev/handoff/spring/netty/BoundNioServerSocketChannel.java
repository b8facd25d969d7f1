package dev.handoff.spring.netty;

import io.netty.channel.socket.nio.NioServerSocketChannel;

import java.net.SocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;

/**
 * Netty's NIO server channel around a JDK channel that is already bound (binding it is a no-op), whose
 * connections can be detached to move to a successor.
 */
final class BoundNioServerSocketChannel extends NioServerSocketChannel {

    BoundNioServerSocketChannel(ServerSocketChannel channel) {
        super(channel);
    }

    @Override
    protected void doBind(SocketAddress localAddress) {
        // bound by the Handoff (inherited, or bound fresh on a cold start)
    }

    @Override
    protected int doReadMessages(List<Object> accepted) throws Exception {
        SocketChannel socket = javaChannel().accept();
        if (socket == null) {
            return 0;
        }
        try {
            accepted.add(new DetachableNioSocketChannel(this, socket));
            return 1;
        } catch (RuntimeException e) {
            socket.close();
            throw e;
        }
    }
}
