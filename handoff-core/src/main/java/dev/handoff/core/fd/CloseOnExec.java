package dev.handoff.core.fd;

import java.lang.invoke.MethodHandle;
import java.lang.reflect.Array;
import java.util.Optional;

/**
 * Marks received descriptors close-on-exec. junixsocket receives without {@code MSG_CMSG_CLOEXEC} and the
 * JDK has no {@code fcntl}, so on JDK 22 and later this calls {@code fcntl(fd, F_SETFD, FD_CLOEXEC)}
 * through the foreign-function API (looked up by reflection: this library is compiled for Java 17). On
 * older JDKs it does nothing; there the JDK's process launcher, which closes every descriptor above 2 in
 * a child, is what keeps received descriptors out of children the JVM starts.
 */
final class CloseOnExec {

    private static final int F_SETFD = 2;
    private static final int FD_CLOEXEC = 1;
    private static final MethodHandle FCNTL = fcntl();

    private CloseOnExec() {
    }

    /** Whether descriptors really are marked (JDK 22+ with native access allowed). */
    static boolean available() {
        return FCNTL != null;
    }

    static void mark(int fd) {
        if (FCNTL == null) {
            return;
        }
        try {
            int result = (int) FCNTL.invokeExact(fd, F_SETFD, FD_CLOEXEC);
            if (result != 0) {
                throw new IllegalStateException("fcntl(" + fd + ", F_SETFD, FD_CLOEXEC) failed");
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    private static MethodHandle fcntl() {
        try {
            Class<?> linkerType = Class.forName("java.lang.foreign.Linker");
            Class<?> optionType = Class.forName("java.lang.foreign.Linker$Option");
            Class<?> layoutType = Class.forName("java.lang.foreign.MemoryLayout");
            Class<?> descriptorType = Class.forName("java.lang.foreign.FunctionDescriptor");
            Class<?> segmentType = Class.forName("java.lang.foreign.MemorySegment");
            Object linker = linkerType.getMethod("nativeLinker").invoke(null);
            Object lookup = linkerType.getMethod("defaultLookup").invoke(linker);
            Optional<?> symbol = (Optional<?>) Class.forName("java.lang.foreign.SymbolLookup")
                    .getMethod("find", String.class).invoke(lookup, "fcntl");
            if (symbol.isEmpty()) {
                return null;
            }
            Object javaInt = Class.forName("java.lang.foreign.ValueLayout").getField("JAVA_INT").get(null);
            Object arguments = Array.newInstance(layoutType, 3);
            for (int i = 0; i < 3; i++) {
                Array.set(arguments, i, javaInt);
            }
            Object descriptor = descriptorType.getMethod("of", layoutType, arguments.getClass())
                    .invoke(null, javaInt, arguments);
            // int fcntl(int fd, int cmd, ...): the third argument is variadic.
            Object options = Array.newInstance(optionType, 1);
            Array.set(options, 0, optionType.getMethod("firstVariadicArg", int.class).invoke(null, 2));
            return (MethodHandle) linkerType.getMethod("downcallHandle", segmentType, descriptorType, options.getClass())
                    .invoke(linker, symbol.get(), descriptor, options);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return null; // before JDK 22, or native access refused
        }
    }
}
