package dev.handoff.harness;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Whether a start-up archive fits a command, decided against its fingerprint with this JVM's real
 * {@code java}: the archive's flag goes in only when it does, and otherwise a warning says what changed.
 */
@Timeout(60)
class StartupArchiveTest {

    @TempDir
    Path temp;

    private final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    private final List<String> warnings = new ArrayList<>();
    private Path jar;
    private StartupArchive archive;
    private List<String> command;

    @BeforeEach
    void trained() throws Exception {
        jar = Files.write(temp.resolve("app.jar"), new byte[]{1, 2, 3});
        archive = new StartupArchive(Files.write(temp.resolve("app.archive"), new byte[]{0}));
        command = List.of(java, "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-jar", jar.toString(), "--port", "1");
        archive.writeFingerprint(command, StartupArchive.Jvm.of(command));
    }

    @Test
    void aFittingArchiveGoesRightAfterJavaAsThisJdksFlag() throws Exception {
        List<String> using = archive.using(command, warnings::add);
        String flag = Runtime.version().feature() >= StartupArchive.AOT_CACHE_FEATURE ? "-XX:AOTCache=" : "-XX:SharedArchiveFile=";
        assertEquals(java, using.get(0));
        assertEquals(flag + archive.path(), using.get(1));
        assertEquals(command.subList(1, command.size()), using.subList(2, using.size()));
        assertEquals(List.of(), warnings);
    }

    @Test
    void aJarReplacedSinceTrainingLeavesTheArchiveOutAndSaysSo() throws Exception {
        Files.setLastModifiedTime(jar, FileTime.fromMillis(Files.getLastModifiedTime(jar).toMillis() + 60_000));
        assertSame(command, archive.using(command, warnings::add));
        assertEquals(1, warnings.size());
        assertTrue(warnings.get(0).startsWith("starting without the start-up archive " + archive.path()
                + ": it was trained for class-path.0 " + jar), warnings.get(0));
    }

    @Test
    void aJarRebuiltReproduciblyWithOtherContentOfTheSameSizeAndTimeLeavesTheArchiveOut() throws Exception {
        FileTime fixed = FileTime.fromMillis(1_764_547_200_000L); // what a reproducible build stamps
        Path app = temp.resolve("repro.jar");
        writeJar(app, "Main.class", new byte[]{1, 2, 3, 4}, fixed);
        List<String> reproducible = List.of(java, "-jar", app.toString());
        archive.writeFingerprint(reproducible, StartupArchive.Jvm.of(reproducible));
        long size = Files.size(app);
        writeJar(app, "Main.class", new byte[]{1, 2, 3, 5}, fixed); // one byte changed: same size, same time
        assertEquals(size, Files.size(app));
        assertEquals(fixed, Files.getLastModifiedTime(app));
        assertSame(reproducible, archive.using(reproducible, warnings::add));
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("content"), warnings.get(0));
        writeJar(app, "Main.class", new byte[]{1, 2, 3, 4}, fixed); // the very jar it was trained on fits again
        assertEquals(reproducible.size() + 1, archive.using(reproducible, warnings::add).size());
    }

    private static void writeJar(Path file, String entry, byte[] content, FileTime time) throws Exception {
        try (var out = new java.util.zip.ZipOutputStream(Files.newOutputStream(file))) {
            java.util.zip.ZipEntry zipEntry = new java.util.zip.ZipEntry(entry);
            zipEntry.setLastModifiedTime(time);
            out.putNextEntry(zipEntry);
            out.write(content);
            out.closeEntry();
        }
        Files.setLastModifiedTime(file, time);
    }

    @Test
    void otherJvmOptionsOrAnotherClassPathLeaveTheArchiveOut() throws Exception {
        List<String> otherOptions = List.of(java, "-jar", jar.toString());
        assertSame(otherOptions, archive.using(otherOptions, warnings::add));
        List<String> otherClassPath = List.of(java, "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-cp",
                jar + ":" + temp, "Main");
        assertSame(otherClassPath, archive.using(otherClassPath, warnings::add));
        assertEquals(2, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("it was trained for jvm-options --add-opens java.base/sun.nio.ch=ALL-UNNAMED"),
                warnings.get(0));
        assertTrue(warnings.get(1).contains("the class path differs"), warnings.get(1));
    }

    @Test
    void theSameJarNamedByAnotherPathLeavesTheArchiveOut() throws Exception {
        Path relative = Path.of("").toAbsolutePath().relativize(jar);
        List<String> sameJar = List.of(java, "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-jar", relative.toString(), "--port", "1");
        assertSame(sameJar, archive.using(sameJar, warnings::add));
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("it was trained for class-path.0 " + jar + " (")
                && warnings.get(0).contains("this command has " + relative + " ("), warnings.get(0));
    }

    @Test
    void anArchiveWithoutItsFingerprintOrNoArchiveAtAllIsLeftOut() throws Exception {
        Files.delete(archive.fingerprintFile());
        assertSame(command, archive.using(command, warnings::add));
        Files.delete(archive.path());
        assertSame(command, archive.using(command, warnings::add));
        assertTrue(warnings.get(0).endsWith("there is no app.archive.fingerprint beside it (train writes one)"), warnings.get(0));
        assertTrue(warnings.get(1).endsWith("there is no archive at " + archive.path()), warnings.get(1));
    }

    @Test
    void aCommandWhoseJavaDoesNotRunIsStartedAsItIsWithAWarning() throws Exception {
        List<String> broken = List.of(temp.resolve("no-such-java").toString(), "-jar", jar.toString());
        assertSame(broken, archive.using(broken, warnings::add));
        assertEquals(1, warnings.size(), warnings.toString());
    }
}
