package dev.handoff.core.fd;

import java.util.List;

import dev.handoff.core.testing.OpenFds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

import java.io.IOException;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The rendezvous socket's rules: owner-only directory, stale files replaced, live sockets never. */
@Timeout(60)
class FdServerTest {

    @TempDir
    Path temp;

    @Test
    void aStaleSocketFileIsReplaced() throws Exception {
        Path socket = temp.resolve("run").resolve("r.sock");
        FdServer.prepareDirectory(socket.getParent());
        AFUNIXServerSocket crashed = AFUNIXServerSocket.newInstance();
        crashed.setDeleteOnClose(false);
        crashed.bind(AFUNIXSocketAddress.of(socket));
        crashed.close(); // what a killed process leaves behind: the file, and nobody accepting
        assertTrue(Files.exists(socket));
        assertFalse(FdServer.isLive(socket));
        OpenFds before = OpenFds.snapshot();
        try (FdServer server = FdServer.bind(socket, FdLimits.DEFAULT)) {
            assertTrue(FdServer.isLive(socket));
            assertTrue(server.ownsPath());
        }
        assertFalse(Files.exists(socket), "a closed server removes the path it still owns");
        before.assertNoLeak();
    }

    @Test
    void aLiveSocketIsNeverReplacedButCanBeTakenOver() throws Exception {
        Path socket = temp.resolve("run").resolve("r.sock");
        try (FdServer live = FdServer.bind(socket, FdLimits.DEFAULT)) {
            SocketException e = assertThrows(SocketException.class, () -> FdServer.bind(socket, FdLimits.DEFAULT));
            assertTrue(e.getMessage().contains("another process is listening"), e.getMessage());
            assertTrue(live.ownsPath());
            try (FdServer successor = FdServer.takeOver(socket, FdLimits.DEFAULT)) {
                assertFalse(live.ownsPath());
                assertTrue(successor.ownsPath());
                live.close();
                assertTrue(Files.exists(socket), "the old server leaves the successor's socket alone");
                assertTrue(FdServer.isLive(socket));
            }
        }
    }

    @Test
    void aDirectoryOthersCanEnterIsRefused() throws Exception {
        Path open = Files.createDirectory(temp.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
        IOException e = assertThrows(IOException.class, () -> FdServer.bind(open.resolve("r.sock"), FdLimits.DEFAULT));
        assertTrue(e.getMessage().contains("chmod 700"), e.getMessage());
        Path created = temp.resolve("new").resolve("deeper");
        FdServer.prepareDirectory(created);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(created)));
    }

    @Test
    void thePrivateNameSaysNothingOfThePidAndCannotBeGuessed() throws Exception {
        Path socket = temp.resolve("run").resolve("r.sock");
        java.util.Set<String> names = new java.util.HashSet<>();
        for (int i = 0; i < 3; i++) {
            try (FdServer server = FdServer.bind(socket, FdLimits.DEFAULT);
                 java.util.stream.Stream<Path> files = Files.list(socket.getParent())) {
                List<String> hidden = files.map(path -> path.getFileName().toString())
                        .filter(name -> name.startsWith(".")).toList();
                assertEquals(1, hidden.size(), hidden.toString());
                String name = hidden.get(0);
                assertTrue(name.matches("\\.r\\.sock\\.[0-9a-f]{32}"), name);
                names.add(name);
            }
        }
        assertEquals(3, names.size(), "a fresh name each time");
    }
}
