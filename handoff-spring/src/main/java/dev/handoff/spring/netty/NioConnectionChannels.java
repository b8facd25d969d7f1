package dev.handoff.spring.netty;

import dev.handoff.spring.MovableConnections;
import io.netty.channel.Channel;

import java.nio.channels.SocketChannel;

/** Connections on NIO event loops: Netty's NIO channel around the JDK channel itself, detached to leave. */
final class NioConnectionChannels implements ConnectionChannels {

    @Override
    public Channel child(Channel server, SocketChannel socket) {
        return new DetachableNioSocketChannel(server, socket);
    }

    @Override
    public boolean made(Channel channel) {
        return channel instanceof DetachableNioSocketChannel;
    }

    @Override
    public SocketChannel release(Channel channel) {
        DetachableNioSocketChannel detachable = (DetachableNioSocketChannel) channel;
        detachable.detach();
        return detachable.socket();
    }

    @Override
    public boolean nothingToRead(Channel channel) {
        return MovableConnections.nothingToRead(((DetachableNioSocketChannel) channel).socket());
    }
}
