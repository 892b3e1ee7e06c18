package main

import (
	"context"
	"fmt"
)

func cmdPasswd(_ context.Context, args []string, sio stdio) error {
	return fmt.Errorf("%w: not yet", errUsage)
}
