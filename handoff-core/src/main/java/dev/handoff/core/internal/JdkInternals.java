package dev.handoff.core.internal;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.SocketAddress;
import java.nio.channels.Channel;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.spi.SelectorProvider;

/**
 * The one place that touches JDK internals. The JDK has no public API to build a channel around an
 * existing file descriptor (nor to read a channel's descriptor), so this class reaches into
 * {@code sun.nio.ch} and {@code java.io.FileDescriptor} by reflection. Names are resolved once, at class
 * initialisation; when the module system refuses access, every method fails with a message that names
 * the exact JVM flags to add. Checked on JDK 17 and JDK 25.
 */
public final class JdkInternals {

    /**
     * The JVM flags this class needs: for the class path ({@code ALL-UNNAMED}; executable jars carry them as
     * {@code Add-Opens} manifest entries), or for the module path ({@code dev.handoff.core}).
     */
    public static final String REQUIRED_FLAGS = flagsFor(JdkInternals.class.getModule());

    private static final Field FD_NUMBER;
    private static final Method FD_CLOSE;
    private static final Method CHANNEL_FD;
    private static final Constructor<?> SERVER_SOCKET_CHANNEL;
    private static final Constructor<?> SOCKET_CHANNEL;
    private static final Constructor<?> DATAGRAM_CHANNEL;
    private static final Field DATAGRAM_FAMILY;
    private static final Method INT_OPTION;
    private static final Method LOCAL_ADDRESS;
    private static final Method REMOTE_ADDRESS;
    private static final Method DUP;
    private static final RuntimeException UNAVAILABLE;

    static {
        Field fdNumber = null;
        Method fdClose = null;
        Method channelFd = null;
        Constructor<?> server = null;
        Constructor<?> socket = null;
        Constructor<?> datagram = null;
        Field datagramFamily = null;
        Method intOption = null;
        Method localAddress = null;
        Method remoteAddress = null;
        Method dup = null;
        RuntimeException unavailable = null;
        try {
            fdNumber = accessible(FileDescriptor.class.getDeclaredField("fd"));
            fdClose = accessible(FileDescriptor.class.getDeclaredMethod("close"));
            channelFd = accessible(Class.forName("sun.nio.ch.SelChImpl").getDeclaredMethod("getFD"));
            server = accessible(Class.forName("sun.nio.ch.ServerSocketChannelImpl").getDeclaredConstructor(
                    SelectorProvider.class, ProtocolFamily.class, FileDescriptor.class, boolean.class));
            socket = accessible(Class.forName("sun.nio.ch.SocketChannelImpl").getDeclaredConstructor(
                    SelectorProvider.class, ProtocolFamily.class, FileDescriptor.class, SocketAddress.class));
            Class<?> datagramImpl = Class.forName("sun.nio.ch.DatagramChannelImpl");
            datagram = accessible(datagramImpl.getDeclaredConstructor(SelectorProvider.class, FileDescriptor.class));
            datagramFamily = accessible(datagramImpl.getDeclaredField("family"));
            Class<?> net = Class.forName("sun.nio.ch.Net");
            intOption = accessible(net.getDeclaredMethod(
                    "getIntOption0", FileDescriptor.class, boolean.class, int.class, int.class));
            localAddress = accessible(net.getDeclaredMethod("localAddress", FileDescriptor.class));
            remoteAddress = accessible(net.getDeclaredMethod("remoteAddress", FileDescriptor.class));
            // The JDK's dup(2), which System.inheritedChannel() uses: there is no other way to it before JDK 22.
            dup = accessible(Class.forName("sun.nio.ch.InheritedChannel").getDeclaredMethod("dup", int.class));
        } catch (RuntimeException | ReflectiveOperationException e) {
            // InaccessibleObjectException (a RuntimeException) is what a missing --add-opens looks like.
            unavailable = new IllegalStateException("Handoff needs access to JDK internals to rebuild channels "
                    + "from file descriptors; start the JVM with " + REQUIRED_FLAGS
                    + " (or run an executable jar whose manifest has Add-Opens). Cause: " + e, e);
        }
        FD_NUMBER = fdNumber;
        FD_CLOSE = fdClose;
        CHANNEL_FD = channelFd;
        SERVER_SOCKET_CHANNEL = server;
        SOCKET_CHANNEL = socket;
        DATAGRAM_CHANNEL = datagram;
        DATAGRAM_FAMILY = datagramFamily;
        INT_OPTION = intOption;
        LOCAL_ADDRESS = localAddress;
        REMOTE_ADDRESS = remoteAddress;
        DUP = dup;
        UNAVAILABLE = unavailable;
    }

    private JdkInternals() {
    }

    private static String flagsFor(Module module) {
        String target = module.isNamed() ? module.getName() : "ALL-UNNAMED";
        return "--add-opens java.base/sun.nio.ch=" + target + " --add-opens java.base/java.io=" + target;
    }

    /** Why access was refused (the message names the missing flags), or {@code null} if it was granted. */
    public static RuntimeException unavailable() {
        return UNAVAILABLE;
    }

    /** Fails with the message that names the missing flags, if access was refused. */
    public static void checkAvailable() {
        if (UNAVAILABLE != null) {
            throw UNAVAILABLE;
        }
    }

    /** The descriptor number inside a {@link FileDescriptor}, or -1 when it is closed. */
    public static int fdNumber(FileDescriptor fd) {
        checkAvailable();
        try {
            return FD_NUMBER.getInt(fd);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A new {@link FileDescriptor} object for a descriptor number this process owns. */
    public static FileDescriptor fileDescriptor(int number) {
        checkAvailable();
        FileDescriptor fd = new FileDescriptor();
        setNumber(fd, number);
        return fd;
    }

    /**
     * Makes a {@link FileDescriptor} object forget its number without closing it, so that whoever held
     * it (a library that tracks what it received) can no longer close the descriptor we now own.
     */
    public static void forget(FileDescriptor fd) {
        checkAvailable();
        setNumber(fd, -1);
    }

    /**
     * A second descriptor for what {@code fd} refers to ({@code dup(2)}), in a new {@link FileDescriptor}
     * object that the caller owns. Like dup(2), it is not close-on-exec.
     */
    public static FileDescriptor duplicate(FileDescriptor fd) throws IOException {
        int number = fdNumber(fd);
        if (number < 0) {
            throw new IOException("cannot duplicate a closed file descriptor");
        }
        return fileDescriptor((Integer) invoke(DUP, null, number));
    }

    /** Closes the descriptor behind a {@link FileDescriptor} object that no stream or channel wraps. */
    public static void close(FileDescriptor fd) throws IOException {
        checkAvailable();
        invoke(FD_CLOSE, fd);
    }

    /** The {@link FileDescriptor} of a JDK socket channel (any {@code sun.nio.ch.SelChImpl}). */
    public static FileDescriptor fileDescriptor(Channel channel) {
        checkAvailable();
        if (!CHANNEL_FD.getDeclaringClass().isInstance(channel)) {
            throw new IllegalArgumentException("not a JDK socket channel: " + channel.getClass().getName());
        }
        try {
            return (FileDescriptor) invoke(CHANNEL_FD, channel);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static ServerSocketChannel serverSocketChannel(FileDescriptor fd, ProtocolFamily family)
            throws IOException {
        return (ServerSocketChannel) construct(SERVER_SOCKET_CHANNEL, SelectorProvider.provider(), family, fd, true);
    }

    public static SocketChannel socketChannel(FileDescriptor fd, ProtocolFamily family, SocketAddress remote)
            throws IOException {
        return (SocketChannel) construct(SOCKET_CHANNEL, SelectorProvider.provider(), family, fd, remote);
    }

    public static DatagramChannel datagramChannel(FileDescriptor fd, ProtocolFamily family) throws IOException {
        DatagramChannel channel = (DatagramChannel) construct(DATAGRAM_CHANNEL, SelectorProvider.provider(), fd);
        // This constructor assumes the JVM's preferred family; an AF_INET socket must say INET or its
        // sends would use IPv6 socket addresses.
        try {
            DATAGRAM_FAMILY.set(channel, family);
        } catch (IllegalAccessException e) {
            channel.close();
            throw new IllegalStateException(e);
        }
        return channel;
    }

    /** {@code getsockopt(fd, level, name)} for an int-valued option. */
    public static int intSocketOption(FileDescriptor fd, int level, int name) throws IOException {
        return (Integer) invoke(INT_OPTION, null, fd, false, level, name);
    }

    public static InetSocketAddress localAddress(FileDescriptor fd) throws IOException {
        return (InetSocketAddress) invoke(LOCAL_ADDRESS, null, fd);
    }

    public static InetSocketAddress remoteAddress(FileDescriptor fd) throws IOException {
        return (InetSocketAddress) invoke(REMOTE_ADDRESS, null, fd);
    }

    private static void setNumber(FileDescriptor fd, int number) {
        try {
            FD_NUMBER.setInt(fd, number);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private static <T extends java.lang.reflect.AccessibleObject> T accessible(T member) {
        member.setAccessible(true);
        return member;
    }

    private static Object construct(Constructor<?> constructor, Object... args) throws IOException {
        checkAvailable();
        try {
            return constructor.newInstance(args);
        } catch (InvocationTargetException e) {
            throw unwrap(e);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Object invoke(Method method, Object target, Object... args) throws IOException {
        checkAvailable();
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw unwrap(e);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private static IOException unwrap(InvocationTargetException e) {
        Throwable cause = e.getCause();
        if (cause instanceof IOException io) {
            return io;
        }
        if (cause instanceof RuntimeException runtime) {
            throw runtime;
        }
        if (cause instanceof Error error) {
            throw error;
        }
        return new IOException(cause);
    }
}
