package dev.handoff.core.manifest;

import dev.handoff.core.fd.FdType;

/**
 * Any other descriptor the application hands over (a file, a pipe, a Unix socket...).
 *
 * @param name the application's name for it
 * @param type what it is, as the incumbent's kernel reported it
 * @param fd   index of its descriptor among those sent with the manifest
 */
public record FileEntry(String name, FdType type, int fd) {
}
