package dev.handoff.core.testing;

import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffOptions;
import dev.handoff.core.Takeover;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.TreeSet;

/**
 * A server on the exported API alone, for {@code ModulePathTest}: it runs with handoff-core on the module
 * path (or on a class path without Micrometer) and uses nothing but {@code dev.handoff.core}. Prints what
 * it sees of the module, then {@code READY pid=.. generation=..}, and {@code EXIT} after a successor took
 * over. Each connection gets {@code <pid> <generation>}.
 *
 * <p>Arguments: socket-path port.
 */
public final class ModuleChild {

    public static void main(String[] args) throws Exception {
        Module module = Handoff.class.getModule();
        System.out.println("MODULE " + (module.isNamed() ? module.getName() : "unnamed") + " exports "
                + (module.isNamed() ? new TreeSet<>(module.getDescriptor().exports().stream()
                        .map(java.lang.module.ModuleDescriptor.Exports::source).toList()) : "everything"));
        System.out.println("INTERNAL " + internalPackageAccess());
        System.out.println("MICROMETER " + (present("io.micrometer.core.instrument.MeterRegistry") ? "present" : "absent"));
        Handoff handoff;
        try {
            handoff = Handoff.start(HandoffOptions.builder(Path.of(args[0])).probation(Duration.ZERO).build());
        } catch (IllegalStateException e) {
            System.out.println("FAILED " + e.getMessage() + (e.getCause() == null ? "" : " (" + e.getCause() + ")"));
            System.exit(3);
            return;
        }
        ServerSocketChannel listener = handoff.listen("main", new InetSocketAddress("127.0.0.1", Integer.parseInt(args[1])));
        System.out.println("PORT " + ((InetSocketAddress) listener.getLocalAddress()).getPort());
        String answer = ProcessHandle.current().pid() + " " + handoff.generation() + "\n";
        Thread server = new Thread(() -> serve(listener, answer), "serve");
        server.start();
        handoff.ready();
        System.out.println("READY pid=" + ProcessHandle.current().pid() + " generation=" + handoff.generation());
        Takeover takeover = handoff.awaitExit();
        listener.close();
        server.join();
        takeover.done();
        System.out.println("EXIT");
        System.exit(0);
    }

    /** Whether code outside the module may call into an engine package ({@code refused} on the module path). */
    private static String internalPackageAccess() {
        try {
            Class.forName("dev.handoff.core.fd.FdChannel").getMethod("maxFdsPerMessage").invoke(null);
            return "allowed";
        } catch (IllegalAccessException e) {
            return "refused";
        } catch (ReflectiveOperationException e) {
            return "failed " + e;
        }
    }

    private static boolean present(String className) {
        try {
            Class.forName(className);
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    private static void serve(ServerSocketChannel listener, String answer) {
        while (listener.isOpen()) {
            try (SocketChannel connection = listener.accept()) {
                connection.write(ByteBuffer.wrap(answer.getBytes(StandardCharsets.US_ASCII)));
            } catch (IOException e) {
                if (listener.isOpen()) {
                    e.printStackTrace();
                }
            }
        }
    }
}
