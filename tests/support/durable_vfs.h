/* A SQLite VFS for power-cut tests: it wraps the default one and keeps,
 * for every database and WAL file, what a disk is sure to hold after a
 * power cut: the file's content as of its last sync (a copy taken at each
 * xSync, beside the file as NAME.durable). A file never synced holds
 * nothing. t_durable_cut() then lays those images out as another database:
 * what the machine would find on its disk when it boots again. */
#ifndef OWB_TEST_DURABLE_VFS_H
#define OWB_TEST_DURABLE_VFS_H

/* Makes the wrapper the default VFS of this process (connections opened
 * after use it); t_durable_off() puts the default back. */
void t_durable_on(void);
void t_durable_off(void);

/* Copies the synced images of db and db-wal to to and to-wal (a file with
 * no image is left out, as a disk would not have it). */
void t_durable_cut(const char *db, const char *to);

#endif
