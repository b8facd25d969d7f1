package dev.handoff.sample;

import dev.handoff.core.testing.JavaChild;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's API section is {@code MinimalExample} word for word, and it does what the README says: run
 * from the built jar, a second copy takes the port and a live connection over (a line half sent before
 * the takeover is answered by the new copy), and the first one exits with status 0.
 */
@Timeout(120)
class MinimalExampleIT {

    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path temp;

    private final List<JavaChild> children = new ArrayList<>();

    @AfterEach
    void stop() {
        children.forEach(JavaChild::close);
    }

    @Test
    void theReadmesApiSectionIsTheCompiledExampleWordForWord() throws Exception {
        String source = Files.readString(Path.of("src/main/java/dev/handoff/sample/MinimalExample.java"));
        String example = source.substring(source.indexOf("public final class MinimalExample"));
        String readme = Files.readString(Path.of("..", "README.md"));
        assertTrue(readme.contains(example), "README.md must hold MinimalExample.java from 'public final class' on, as it is");
        assertTrue(source.lines().count() <= 150, "the minimal example stays within 150 lines");
    }

    @Test
    void aSecondCopyTakesTheConnectionOverWithItsHalfSentLineAndTheFirstExits() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        Path socket = temp.resolve("run").resolve("minimal.sock");
        JavaChild first = start(port, socket);
        first.awaitLine("READY", WAIT);
        try (Socket client = new Socket()) {
            client.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            client.setSoTimeout(20_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = client.getOutputStream();
            out.write("one\nhalf".getBytes(StandardCharsets.US_ASCII));
            assertEquals(first.pid() + " one", in.readLine());

            JavaChild second = start(port, socket);
            assertTrue(second.awaitLine("READY", WAIT).endsWith("generation=2"));
            String exit = first.awaitLine("EXIT", WAIT);
            assertTrue(exit.endsWith("handed over 1"), exit);
            assertEquals(0, first.awaitExit(WAIT));

            out.write(" a line\n".getBytes(StandardCharsets.US_ASCII));
            assertEquals(second.pid() + " half a line", in.readLine(), "the bytes read before the takeover travel along");
        }
    }

    private JavaChild start(int port, Path socket) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(JavaChild.JVM_FLAGS);
        command.add("-cp");
        command.add(Path.of(MinimalExample.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
        command.add(MinimalExample.class.getName());
        command.add(Integer.toString(port));
        command.add(socket.toString());
        JavaChild child = JavaChild.start(new ProcessBuilder(command));
        children.add(child);
        return child;
    }
}
