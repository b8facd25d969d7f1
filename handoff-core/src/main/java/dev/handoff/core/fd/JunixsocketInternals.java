package dev.handoff.core.fd;

import org.newsclub.net.unix.AFSocket;
import org.newsclub.net.unix.AFUNIXSocket;

import java.io.FileDescriptor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.Map;

/**
 * The one place that reaches into junixsocket's internals, for three things its API does not offer:
 * <ul>
 *   <li>a control-data buffer for 253 descriptors per message: junixsocket caps what a caller may ask
 *       for at 256 bytes, room for 60, while the kernel sends up to 253 (SCM_MAX_FD) in one;</li>
 *   <li>a socket's peer as the kernel's raw {@code sockaddr}, in one {@code getpeername(2)}: the JDK asks
 *       twice for an address (once for the IP, once for the port), which counts when thousands of
 *       handed-over connections are checked at once;</li>
 *   <li>taking a received descriptor away from junixsocket without closing it: junixsocket remembers
 *       every descriptor it received, to close it with the socket, until that descriptor is closed.</li>
 * </ul>
 * Where the internals are not accessible, messages stay at 60 descriptors and the memory of what was
 * received lives until the socket closes, and peers are asked through the JDK; nothing else changes.
 */
final class JunixsocketInternals {

    /** The kernel's limit on descriptors in one SCM_RIGHTS message. */
    static final int KERNEL_MAX_FDS = 253;
    /** What junixsocket's own API allows. */
    static final int JUNIXSOCKET_MAX_FDS = 60;
    private static final int LARGE_BUFFER_BYTES = 4096;

    private static final Field IMPL;
    private static final Method ANCILLARY_SUPPORT;
    private static final Method SET_SIZE_UNCAPPED;
    private static final Field OPEN_RECEIVED;
    private static final Method SOCKNAME;
    /** junixsocket's "any address family" for {@code sockname}: the raw sockaddr, whatever the family. */
    private static final int DOMAIN_GENERIC = -1;

    static {
        Field impl = null;
        Method support = null;
        Method setSize = null;
        Field openReceived = null;
        try {
            impl = AFSocket.class.getDeclaredField("impl");
            impl.setAccessible(true);
            support = Class.forName("org.newsclub.net.unix.AFSocketImpl").getDeclaredMethod("getAncillaryDataSupport");
            support.setAccessible(true);
            Class<?> ancillary = Class.forName("org.newsclub.net.unix.AncillaryDataSupport");
            setSize = ancillary.getDeclaredMethod("setAncillaryReceiveBufferSize0", int.class);
            setSize.setAccessible(true);
            openReceived = ancillary.getDeclaredField("openReceivedFileDescriptors");
            openReceived.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            impl = null;
        }
        IMPL = impl;
        Method sockname = null;
        try {
            if (AFUNIXSocket.isSupported()) { // loads the native library, which sockname lives in
                sockname = Class.forName("org.newsclub.net.unix.NativeUnixSocket")
                        .getDeclaredMethod("sockname", int.class, FileDescriptor.class, boolean.class);
                sockname.setAccessible(true);
            }
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            sockname = null;
        }
        SOCKNAME = sockname;
        ANCILLARY_SUPPORT = support;
        SET_SIZE_UNCAPPED = setSize;
        OPEN_RECEIVED = openReceived;
    }

    private JunixsocketInternals() {
    }

    /** The largest batch this process can receive in one message. */
    static int maxFdsPerMessage() {
        return IMPL != null ? KERNEL_MAX_FDS : JUNIXSOCKET_MAX_FDS;
    }

    /** Whether {@link #peerName} can ask the kernel; where it cannot, callers ask the JDK. */
    static boolean readsPeerNames() {
        return SOCKNAME != null;
    }

    /**
     * The peer of a connected socket as the kernel's {@code sockaddr} (family in host byte order, then the
     * family's fields), from one {@code getpeername(2)}; null when {@code fd} is not a connected socket.
     */
    static byte[] peerName(FileDescriptor fd) {
        try {
            return (byte[]) SOCKNAME.invoke(null, DOMAIN_GENERIC, fd, true);
        } catch (ReflectiveOperationException e) {
            return null; // the caller's full description says what the descriptor is
        }
    }

    /** Prepares a socket to receive {@link #maxFdsPerMessage()} descriptors per message. */
    static Receiver prepare(AFUNIXSocket socket) {
        socket.setAncillaryReceiveBufferSize(LARGE_BUFFER_BYTES);
        if (IMPL == null) {
            return new Receiver(null);
        }
        try {
            Object support = ANCILLARY_SUPPORT.invoke(IMPL.get(socket));
            SET_SIZE_UNCAPPED.invoke(support, LARGE_BUFFER_BYTES);
            return new Receiver((Map<?, ?>) OPEN_RECEIVED.get(support));
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot size the control-data buffer", e);
        }
    }

    /** Takes received descriptors away from one socket's junixsocket bookkeeping. */
    static final class Receiver {
        private final Map<?, ?> openReceived;

        private Receiver(Map<?, ?> openReceived) {
            this.openReceived = openReceived;
        }

        /** A descriptor object the caller owns, for the number junixsocket received. */
        FileDescriptor adopt(FileDescriptor received) {
            if (openReceived != null) {
                openReceived.remove(received);
            }
            return Fds.adopt(received);
        }
    }
}
