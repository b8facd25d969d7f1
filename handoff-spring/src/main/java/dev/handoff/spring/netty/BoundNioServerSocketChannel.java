package dev.handoff.spring.netty;

import io.netty.channel.socket.nio.NioServerSocketChannel;

import java.net.SocketAddress;
import java.nio.channels.ServerSocketChannel;

/** Netty's NIO server channel around a JDK channel that is already bound: binding it is a no-op. */
final class BoundNioServerSocketChannel extends NioServerSocketChannel {

    BoundNioServerSocketChannel(ServerSocketChannel channel) {
        super(channel);
    }

    @Override
    protected void doBind(SocketAddress localAddress) {
        // bound by the Handoff (inherited, or bound fresh on a cold start)
    }
}
