package imapd

import "mailhost/imapwire"

// When a command looks for changes of the selected folder after it runs.
const (
	pollNever        = iota // the command changes the selection itself, or is IDLE
	pollNoExpunge           // FETCH, STORE, SEARCH: no EXPUNGE (RFC 9051 7.5.1)
	pollAllowExpunge        // the others
	pollAlways              // NOOP, CHECK: poll even without a notice
)

// handler is one command of the dispatch table.
type handler struct {
	fn     func(*session, *imapwire.Command) error
	states int // the states it is allowed in
	poll   int
}

// noDatabase are the commands that do no database work of their own (a
// poll after them has its own context): they run without a command
// context (IDLE lasts as long as the client wants).
var noDatabase = map[string]bool{"CAPABILITY": true, "NOOP": true, "CHECK": true, "LOGOUT": true, "ID": true,
	"ENABLE": true, "NAMESPACE": true, "IDLE": true, "STARTTLS": true, "UNSELECT": true,
	"CANCELUPDATE": true}

const (
	anyState = stateNotAuth | stateAuth | stateSelected
	authed   = stateAuth | stateSelected
)

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"CAPABILITY":   {cmdCapability, anyState, pollAllowExpunge},
		"NOOP":         {cmdNoop, anyState, pollAlways},
		"LOGOUT":       {cmdLogout, anyState, pollNever},
		"ID":           {cmdID, anyState, pollAllowExpunge},
		"STARTTLS":     {cmdStartTLS, stateNotAuth, pollNever},
		"LOGIN":        {cmdLogin, stateNotAuth, pollNever},
		"AUTHENTICATE": {cmdAuthenticate, stateNotAuth, pollNever},
		"ENABLE":       {cmdEnable, stateAuth, pollNever},
		"SELECT":       {cmdSelect, authed, pollNever},
		"EXAMINE":      {cmdSelect, authed, pollNever},
		"CREATE":       {cmdCreate, authed, pollAllowExpunge},
		"DELETE":       {cmdDelete, authed, pollAllowExpunge},
		"RENAME":       {cmdRename, authed, pollAllowExpunge},
		"SUBSCRIBE":    {cmdSubscribe, authed, pollAllowExpunge},
		"UNSUBSCRIBE":  {cmdSubscribe, authed, pollAllowExpunge},
		"LIST":         {cmdList, authed, pollAllowExpunge},
		"LSUB":         {cmdList, authed, pollAllowExpunge},
		"STATUS":       {cmdStatus, authed, pollAllowExpunge},
		"APPEND":       {cmdAppend, authed, pollAllowExpunge},
		"NAMESPACE":    {cmdNamespace, authed, pollAllowExpunge},
		"IDLE":         {cmdIdle, authed, pollNever},
		"CHECK":        {cmdNoop, stateSelected, pollAlways},
		"CLOSE":        {cmdUnselect, stateSelected, pollNever},
		"UNSELECT":     {cmdUnselect, stateSelected, pollNever},
		"EXPUNGE":      {cmdExpunge, stateSelected, pollAllowExpunge},
		"FETCH":        {cmdFetch, stateSelected, pollNoExpunge},
		"STORE":        {cmdStore, stateSelected, pollNoExpunge},
		"SEARCH":       {cmdSearch, stateSelected, pollNoExpunge},
		"SORT":         {cmdSort, stateSelected, pollNoExpunge},
		"THREAD":       {cmdThread, stateSelected, pollNoExpunge},
		"COPY":         {cmdCopy, stateSelected, pollAllowExpunge},
		"MOVE":         {cmdCopy, stateSelected, pollAllowExpunge},
		"GETQUOTAROOT": {cmdGetQuotaRoot, authed, pollAllowExpunge},
		"GETQUOTA":     {cmdGetQuota, authed, pollAllowExpunge},
		"SETQUOTA":     {cmdSetQuota, authed, pollAllowExpunge},
		"COMPRESS":     {cmdCompress, authed, pollNever},
		"CANCELUPDATE": {cmdCancelUpdate, stateSelected, pollAllowExpunge},
	}
}
