package dev.handoff.core;

import dev.handoff.core.testing.JavaChild;
import dev.handoff.core.testing.ModuleChild;
import dev.handoff.core.testing.ServerFixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * handoff-core as its users run it: on the module path, where only {@code dev.handoff.core} is exported
 * and the JVM flags name the module, and on a class path without Micrometer (an optional dependency).
 * Each takes over from a copy of itself in a real child JVM that sees only the exported API.
 */
@Timeout(120)
class ModulePathTest {

    private static final Duration START = Duration.ofSeconds(30);
    private static final String MODULE = "dev.handoff.core";

    @RegisterExtension
    final ServerFixture fixture = new ServerFixture();

    @Test
    void onTheModulePathOnlyTheApiIsExportedAndAHandoffWorksWithFlagsThatNameTheModule() throws Exception {
        List<String> flags = List.of("--module-path", modulePath(), "--add-modules", MODULE,
                "--add-opens", "java.base/sun.nio.ch=" + MODULE, "--add-opens", "java.base/java.io=" + MODULE,
                "--add-opens", "org.newsclub.net.unix/org.newsclub.net.unix=" + MODULE,
                "--enable-native-access=" + MODULE + ",org.newsclub.net.unix", "-cp", testClasses());
        JavaChild first = start(flags);
        assertEquals("MODULE dev.handoff.core exports [dev.handoff.core]", first.awaitLine("MODULE", START));
        assertEquals("INTERNAL refused", first.awaitLine("INTERNAL", START));
        assertEquals("MICROMETER absent", first.awaitLine("MICROMETER", START));
        takeOverFrom(first, flags);
    }

    @Test
    void onAClassPathWithoutMicrometerAHandoffWorks() throws Exception {
        List<String> flags = List.of("--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
                "--add-opens", "java.base/java.io=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED",
                "-cp", modulePath() + File.pathSeparator + testClasses());
        JavaChild first = start(flags);
        assertEquals("MODULE unnamed exports everything", first.awaitLine("MODULE", START));
        assertEquals("MICROMETER absent", first.awaitLine("MICROMETER", START));
        takeOverFrom(first, flags);
    }

    @Test
    void onTheModulePathWithoutTheFlagsStartFailsNamingTheFlagsForTheModule() throws Exception {
        JavaChild child = start(List.of("--module-path", modulePath(), "--add-modules", MODULE, "-cp", testClasses()));
        String failed = child.awaitLine("FAILED", START);
        assertTrue(failed.contains("--add-opens java.base/sun.nio.ch=" + MODULE + " --add-opens java.base/java.io=" + MODULE),
                failed);
        assertEquals(3, child.awaitExit(START));
    }

    private void takeOverFrom(JavaChild first, List<String> flags) throws Exception {
        assertTrue(first.awaitLine("READY", START).endsWith("generation=1"));
        assertEquals(Long.toString(first.pid()), fixture.fetch()[0]);
        JavaChild second = start(flags);
        assertTrue(second.awaitLine("READY", START).endsWith("generation=2"));
        first.awaitLine("EXIT", START);
        assertEquals(0, first.awaitExit(START));
        assertEquals(Long.toString(second.pid()), fixture.fetch()[0]);
    }

    private JavaChild start(List<String> flags) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(flags);
        command.add(ModuleChild.class.getName());
        command.add(fixture.socket().toString());
        command.add(Integer.toString(fixture.port()));
        return fixture.start(new ProcessBuilder(command));
    }

    /** This module's classes and the jars it requires (and a logger), but not Micrometer nor any test library. */
    private static String modulePath() {
        List<String> path = new ArrayList<>();
        path.add(Path.of("target", "classes").toAbsolutePath().toString());
        for (String entry : classPath()) {
            String name = Path.of(entry).getFileName().toString();
            if (name.startsWith("jackson-") || name.startsWith("junixsocket-") || name.startsWith("slf4j-")) {
                path.add(entry);
            }
        }
        return String.join(File.pathSeparator, path);
    }

    private static String testClasses() {
        return Path.of("target", "test-classes").toAbsolutePath().toString();
    }

    private static List<String> classPath() {
        return Arrays.asList(System.getProperty("java.class.path").split(File.pathSeparator));
    }
}
