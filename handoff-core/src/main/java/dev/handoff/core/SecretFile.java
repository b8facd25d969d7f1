package dev.handoff.core;

import dev.handoff.core.fd.PeerCredentials;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/** Reads a shared secret file, checked the way ssh checks a private key, and bounded. */
final class SecretFile {

    private SecretFile() {
    }

    static byte[] read(Path file) {
        try {
            // Opened without following a link, then checked through the opened file, so that what is
            // checked is what is read.
            try (SeekableByteChannel channel = Files.newByteChannel(file, Set.of(StandardOpenOption.READ,
                    LinkOption.NOFOLLOW_LINKS))) {
                PosixFileAttributes attributes = Files.readAttributes(file, PosixFileAttributes.class,
                        LinkOption.NOFOLLOW_LINKS);
                check(file, attributes);
                try (InputStream in = Channels.newInputStream(channel)) {
                    byte[] secret = in.readNBytes(HandoffOptions.MAX_SECRET_FILE_BYTES + 1);
                    if (secret.length > HandoffOptions.MAX_SECRET_FILE_BYTES) {
                        throw new SecretFileException(file, "shared secret file " + file + " is larger than "
                                + HandoffOptions.MAX_SECRET_FILE_BYTES + " bytes: not a secret", null);
                    }
                    return secret;
                }
            }
        } catch (NoSuchFileException e) {
            throw new SecretFileException(file, "shared secret file " + file + " does not exist", e);
        } catch (IOException e) {
            if (Files.isSymbolicLink(file)) {
                throw new SecretFileException(file, "shared secret file " + file + " is a symbolic link; name the "
                        + "file itself", e);
            }
            throw new SecretFileException(file, "cannot read the shared secret file " + file + ": " + e, e);
        }
    }

    private static void check(Path file, PosixFileAttributes attributes) {
        if (!attributes.isRegularFile()) {
            throw new SecretFileException(file, "shared secret file " + file + " is not a regular file", null);
        }
        Set<PosixFilePermission> permissions = attributes.permissions();
        if (permissions.stream().anyMatch(p -> p.name().startsWith("GROUP") || p.name().startsWith("OTHERS"))) {
            throw new SecretFileException(file, "shared secret file " + file + " has mode "
                    + PosixFilePermissions.toString(permissions) + "; others must not read it (chmod 600 " + file + ")", null);
        }
        long owner;
        try {
            owner = ((Number) Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS)).longValue();
        } catch (IOException e) {
            throw new SecretFileException(file, "cannot tell who owns the shared secret file " + file + ": " + e, e);
        }
        if (owner != PeerCredentials.ownUid()) {
            throw new SecretFileException(file, "shared secret file " + file + " belongs to uid " + owner
                    + ", not to this process (uid " + PeerCredentials.ownUid() + "): whoever owns it chooses the secret", null);
        }
    }
}
