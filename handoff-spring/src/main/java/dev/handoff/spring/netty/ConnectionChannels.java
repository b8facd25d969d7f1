package dev.handoff.spring.netty;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;

import java.io.IOException;
import java.nio.channels.SocketChannel;

/**
 * How the server's connections become Netty channels and leave Netty again, for the transport their event
 * loops run: NIO, or native epoll where Reactor Netty would use it.
 */
interface ConnectionChannels {

    /**
     * A Netty channel, child of {@code server}, for a connection just accepted or handed over. It owns the
     * connection from now on; on failure the socket is closed here.
     */
    Channel child(Channel server, SocketChannel socket) throws IOException;

    /** Whether {@code channel} is one made here, and so one that can be released. */
    boolean made(Channel channel);

    /**
     * On the channel's event loop: the connection as a JDK channel for the successor; closing the Netty
     * channel afterwards ends it for Netty only.
     */
    SocketChannel release(Channel channel) throws IOException;

    /** On the channel's event loop: whether nothing has come in from the client that Netty has not read. */
    boolean nothingToRead(Channel channel);

    /** For connections served on {@code nativeLoops} when those are epoll's, else on NIO event loops. */
    static ConnectionChannels forLoops(EventLoopGroup nativeLoops) {
        try {
            if (nativeLoops != null && EpollConnectionChannels.isUsable(nativeLoops)) {
                return new EpollConnectionChannels();
            }
        } catch (LinkageError e) {
            // Netty's epoll classes are not on the class path
        }
        return new NioConnectionChannels();
    }
}
