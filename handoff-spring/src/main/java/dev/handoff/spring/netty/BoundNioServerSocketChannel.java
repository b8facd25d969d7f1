package dev.handoff.spring.netty;

import io.netty.channel.socket.nio.NioServerSocketChannel;

import java.net.SocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;

/**
 * Netty's NIO server channel around a JDK channel that is already bound (binding it is a no-op), whose
 * connections are made to be released to a successor, on NIO or epoll event loops. The listener itself stays
 * on NIO on either: Netty's epoll server channel cannot skip its bind.
 */
final class BoundNioServerSocketChannel extends NioServerSocketChannel {

    private final ConnectionChannels children;

    BoundNioServerSocketChannel(ServerSocketChannel channel, ConnectionChannels children) {
        super(channel);
        this.children = children;
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
            accepted.add(children.child(this, socket));
            return 1;
        } catch (RuntimeException e) {
            socket.close();
            throw e;
        }
    }
}
