package dev.handoff.spring.netty;

import io.netty.channel.Channel;
import io.netty.channel.socket.nio.NioSocketChannel;

import java.nio.channels.SocketChannel;

/**
 * Netty's NIO connection, which can leave Netty without its descriptor being closed: once detached, a
 * close does Netty's bookkeeping (inactive, pipeline torn down, key cancelled, taken out of the server's
 * channel group and counts) and leaves the JDK channel open for the successor.
 */
final class DetachableNioSocketChannel extends NioSocketChannel {

    private volatile boolean detached;
    private volatile boolean closedHere;

    DetachableNioSocketChannel(Channel parent, SocketChannel socket) {
        super(parent, socket);
    }

    SocketChannel socket() {
        return javaChannel();
    }

    /** From now on a close leaves the descriptor open; call it on the event loop, then close. */
    void detach() {
        detached = true;
    }

    @Override
    protected void doClose() throws Exception {
        if (detached) {
            closedHere = true;
            return;
        }
        super.doClose();
    }

    // Both turn false only in doClose: Netty decides whether to fire channelInactive from isActive before it.
    @Override
    public boolean isOpen() {
        return !closedHere && super.isOpen();
    }

    @Override
    public boolean isActive() {
        return !closedHere && super.isActive();
    }
}
