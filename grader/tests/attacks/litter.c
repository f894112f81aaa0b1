/* Leaves files in /tmp, /var/tmp and /dev/shm. */
#include "attack.h"

void attack(void)
{
	static const char *const DIRS[] = { "/tmp", "/var/tmp", "/dev/shm" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(DIRS) / sizeof(DIRS[0]); i++) {
		snprintf(path, sizeof(path), "%s/attack-litter-%d", DIRS[i], (int)getpid());
		if (write_text(path, "left behind\n") == 0)
			attack_report("left %s", path);
	}
}
