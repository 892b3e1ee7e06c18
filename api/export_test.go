package api

import "github.com/go-chi/chi/v5"

// Router exposes the router to the external tests' route walks.
func (a *API) Router() chi.Router { return a.mux }
