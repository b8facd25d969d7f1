package dev.handoff.spring;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.spring.app.TestApp;

import java.io.Closeable;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One generation of {@link TestApp} in a child JVM, started and waited for until READY; the ports its
 * listeners got (the first generation binds port 0, its successors inherit).
 */
final class TestAppProcess implements Closeable {

    static final Duration WAIT = Duration.ofSeconds(90);

    private final JavaChild child;
    private final Map<String, Integer> ports;

    private TestAppProcess(JavaChild child, Map<String, Integer> ports) {
        this.child = child;
        this.ports = ports;
    }

    /** The arguments of an application on {@code server} (tomcat, jetty, netty) with its socket under {@code temp}. */
    static String[] args(Path temp, String server, String... extra) {
        List<String> args = new ArrayList<>(List.of("--server.port=0",
                "--handoff.socket=" + temp.resolve("run").resolve(server + ".sock"),
                "--spring.profiles.active=" + server, "--management.endpoints.web.exposure.include=handoff,health",
                "--server.shutdown=graceful", "--handoff.probation=200ms"));
        // An extra option replaces the default of the same name (Boot would join the two with a comma).
        args.removeIf(option -> {
            String name = option.substring(0, option.indexOf('=') + 1);
            return Arrays.stream(extra).anyMatch(given -> given.startsWith(name));
        });
        args.addAll(Arrays.asList(extra));
        return args.toArray(new String[0]);
    }

    /** Starts a generation and waits until it is READY as generation {@code generation}. */
    static TestAppProcess start(String[] args, int generation) throws Exception {
        JavaChild child = JavaChild.start(TestApp.class, args);
        try {
            String listeners = child.awaitLine("LISTENERS", WAIT);
            String ready = child.awaitLine("READY pid=", WAIT);
            assertTrue(ready.endsWith("generation=" + generation), ready);
            Map<String, Integer> ports = new TreeMap<>();
            for (String pair : listeners.substring("LISTENERS".length()).trim().split(" ")) {
                String[] nameAndPort = pair.split("=");
                ports.put(nameAndPort[0], Integer.parseInt(nameAndPort[1]));
            }
            return new TestAppProcess(child, ports);
        } catch (Exception | AssertionError e) {
            child.close();
            throw e;
        }
    }

    JavaChild child() {
        return child;
    }

    long pid() {
        return child.pid();
    }

    int port(String listener) {
        Integer port = ports.get(listener);
        if (port == null) {
            throw new AssertionError("no listener '" + listener + "' in " + ports);
        }
        return port;
    }

    @Override
    public void close() {
        child.close();
    }
}
