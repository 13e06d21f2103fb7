package bolt

import "os"

func init() {
	if os.Getenv("BOLT_NOGATHER") != "" {
		maxGatherWait = 0
	}
}
