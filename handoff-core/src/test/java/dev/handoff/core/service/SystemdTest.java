package dev.handoff.core.service;

import dev.handoff.core.fd.Fds;
import dev.handoff.core.testing.JavaChild;
import dev.handoff.core.testing.ServerChild;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * systemd's side without systemd: the notify datagram a real child sends at READY, and socket activation
 * with a real listening socket inherited as fd 3 (set up by a small exec wrapper, as systemd would).
 */
@Timeout(120)
class SystemdTest {

    @TempDir
    Path temp;

    @Test
    void listenFdsAreParsedForThisProcessOnly() {
        Map<String, java.io.FileDescriptor> sockets = SystemdSockets.parse("42", "3", "http:echo", 42);
        assertEquals(List.of("http", "echo", "unknown"), new ArrayList<>(sockets.keySet()));
        assertEquals(3, Fds.number(sockets.get("http")));
        assertEquals(5, Fds.number(sockets.get("unknown")));
        assertTrue(SystemdSockets.parse("41", "3", "http", 42).isEmpty(), "meant for another process");
        assertTrue(SystemdSockets.parse(null, null, null, 42).isEmpty());
        assertTrue(SystemdSockets.parse("42", "x", null, 42).isEmpty());
    }

    @Test
    void aReadyChildSendsReadyAndItsPidToTheNotifySocket() throws Exception {
        Path notify = temp.resolve("notify.sock");
        try (AFUNIXDatagramChannel systemd = AFUNIXDatagramChannel.open()) {
            systemd.bind(AFUNIXSocketAddress.of(notify));
            ProcessBuilder builder = new ProcessBuilder(JavaChild.command(ServerChild.class,
                    temp.resolve("run").resolve("h.sock").toString(), "0"));
            builder.environment().put("NOTIFY_SOCKET", notify.toString());
            try (JavaChild child = JavaChild.start(builder)) {
                child.awaitLine("READY", Duration.ofSeconds(30));
                ByteBuffer datagram = ByteBuffer.allocate(4096);
                systemd.configureBlocking(true);
                systemd.receive(datagram);
                String state = new String(datagram.array(), 0, datagram.position(), StandardCharsets.UTF_8);
                assertTrue(state.contains("READY=1\n"), state);
                assertTrue(state.contains("MAINPID=" + child.pid() + "\n"), state);
                assertTrue(state.contains("STATUS=Serving, generation 1"), state);
            }
        }
    }

    @Test
    void aColdStartServesTheSocketSystemdPassedAsFd3() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs python3 for the exec wrapper");
        // As systemd does: bind (a port the kernel chooses) and listen, put the socket at fd 3, set LISTEN_*
        // for the exec'd process, which is asked for port 0 (any) under the name systemd gave.
        String wrapper = String.join("\n",
                "import os, socket, sys",
                "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
                "s.bind(('127.0.0.1', 0))",
                "s.listen(128)",
                "os.dup2(s.fileno(), 3)",
                "os.set_inheritable(3, True)",
                "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES='main')",
                "os.execv(sys.argv[1], sys.argv[1:])");
        List<String> command = new ArrayList<>(List.of("/usr/bin/python3", "-c", wrapper));
        command.addAll(JavaChild.command(ServerChild.class, temp.resolve("run").resolve("h.sock").toString(), "0"));
        try (JavaChild child = JavaChild.start(new ProcessBuilder(command))) {
            int port = Integer.parseInt(child.awaitLine("PORT", Duration.ofSeconds(30)).substring("PORT ".length()));
            // Binding the port itself would fail: the socket systemd passed already holds it.
            assertTrue(child.awaitLine("READY", Duration.ofSeconds(30)).startsWith("READY pid=" + child.pid()));
            try (Socket client = new Socket("127.0.0.1", port)) {
                String answer = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.US_ASCII)).readLine();
                assertTrue(answer.startsWith(child.pid() + " 1 "), answer);
            }
        }
    }
}
