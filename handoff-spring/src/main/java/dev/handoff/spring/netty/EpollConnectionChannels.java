package dev.handoff.spring.netty;

import dev.handoff.core.Descriptors;
import dev.handoff.spring.MovableConnections;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.UnixChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;

/**
 * Connections on native epoll event loops, as Reactor Netty serves them by default on Linux. Netty's epoll
 * channel owns a descriptor number of its own and closes it, so each direction goes through a copy: a
 * connection enters as a copy of the JDK channel's descriptor (the JDK channel is then closed), and leaves
 * as a JDK channel over a copy of Netty's, after which Netty's close takes the channel out of epoll and
 * closes only its own number.
 *
 * <p>Netty makes an epoll connection with a parent (its server channel) only inside its own package, and
 * Reactor Netty needs the parent (graceful shutdown, metrics); that constructor is reached by reflection.
 * Where it is missing (another Netty version) connections run on NIO instead.
 */
final class EpollConnectionChannels implements ConnectionChannels {

    private static final Logger log = LoggerFactory.getLogger(EpollConnectionChannels.class);
    private static final String SOCKET = "io.netty.channel.epoll.LinuxSocket";
    private static final Constructor<?> LINUX_SOCKET;
    private static final Constructor<EpollSocketChannel> CHILD;

    static {
        Constructor<?> socket = null;
        Constructor<EpollSocketChannel> child = null;
        try {
            Class<?> type = Class.forName(SOCKET);
            socket = type.getDeclaredConstructor(int.class);
            socket.setAccessible(true);
            child = EpollSocketChannel.class.getDeclaredConstructor(Channel.class, type, InetSocketAddress.class);
            child.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.info("Netty's epoll connections cannot be made with a parent here ({}); connections run on NIO", e.toString());
            socket = null;
            child = null;
        }
        LINUX_SOCKET = socket;
        CHILD = child;
    }

    /** Whether {@code loops} are epoll event loops and this Netty lets connections be made for them. */
    static boolean isUsable(EventLoopGroup loops) {
        return CHILD != null && loops instanceof IoEventLoopGroup group && group.isCompatible(EpollIoHandle.class);
    }

    @Override
    public Channel child(Channel server, SocketChannel socket) throws IOException {
        InetSocketAddress remote;
        int copy;
        try (socket) {
            remote = (InetSocketAddress) socket.getRemoteAddress();
            copy = Descriptors.copyOf(socket);
        }
        try {
            return CHILD.newInstance(server, LINUX_SOCKET.newInstance(copy), remote);
        } catch (InvocationTargetException | InstantiationException | IllegalAccessException | RuntimeException e) {
            Descriptors.close(copy);
            throw new IOException("could not make an epoll channel for the connection from " + remote, e);
        }
    }

    @Override
    public boolean made(Channel channel) {
        return channel instanceof EpollSocketChannel;
    }

    @Override
    public SocketChannel release(Channel channel) throws IOException {
        return Descriptors.socketChannelOfCopy(((UnixChannel) channel).fd().intValue());
    }

    /** Netty's epoll socket does not say: asked of a JDK channel over a copy of its descriptor. */
    @Override
    public boolean nothingToRead(Channel channel) {
        try (SocketChannel copy = Descriptors.socketChannelOfCopy(((UnixChannel) channel).fd().intValue())) {
            return MovableConnections.nothingToRead(copy);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
