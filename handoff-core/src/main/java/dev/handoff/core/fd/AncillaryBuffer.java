package dev.handoff.core.fd;

import org.newsclub.net.unix.AFSocket;
import org.newsclub.net.unix.AFUNIXSocket;

import java.lang.reflect.Field;
import java.lang.reflect.Method;

/**
 * Sizes junixsocket's receive buffer for control data. junixsocket caps the size a caller may ask for at
 * 256 bytes, room for 60 descriptors per message, while the kernel sends up to 253 (SCM_MAX_FD) in one.
 * Where junixsocket's internals allow it, the buffer is sized for 253; otherwise messages stay at 60.
 */
final class AncillaryBuffer {

    /** The kernel's limit on descriptors in one SCM_RIGHTS message. */
    static final int KERNEL_MAX_FDS = 253;
    /** What junixsocket's own API allows. */
    static final int JUNIXSOCKET_MAX_FDS = 60;
    private static final int LARGE_BUFFER_BYTES = 4096;

    private static final Field IMPL;
    private static final Method ANCILLARY_SUPPORT;
    private static final Method SET_SIZE_UNCAPPED;

    static {
        Field impl = null;
        Method support = null;
        Method setSize = null;
        try {
            impl = AFSocket.class.getDeclaredField("impl");
            impl.setAccessible(true);
            support = Class.forName("org.newsclub.net.unix.AFSocketImpl").getDeclaredMethod("getAncillaryDataSupport");
            support.setAccessible(true);
            setSize = Class.forName("org.newsclub.net.unix.AncillaryDataSupport")
                    .getDeclaredMethod("setAncillaryReceiveBufferSize0", int.class);
            setSize.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            impl = null;
        }
        IMPL = impl;
        ANCILLARY_SUPPORT = support;
        SET_SIZE_UNCAPPED = setSize;
    }

    private AncillaryBuffer() {
    }

    /** The largest batch this process can receive in one message. */
    static int maxFdsPerMessage() {
        return IMPL != null ? KERNEL_MAX_FDS : JUNIXSOCKET_MAX_FDS;
    }

    /** Prepares a socket to receive {@link #maxFdsPerMessage()} descriptors per message. */
    static void configure(AFUNIXSocket socket) {
        socket.setAncillaryReceiveBufferSize(LARGE_BUFFER_BYTES);
        if (IMPL == null) {
            return;
        }
        try {
            Object support = ANCILLARY_SUPPORT.invoke(IMPL.get(socket));
            SET_SIZE_UNCAPPED.invoke(support, LARGE_BUFFER_BYTES);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot size the control-data buffer", e);
        }
    }
}
