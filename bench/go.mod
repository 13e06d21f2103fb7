module github.com/herald-sse/herald/bench

go 1.26.0

replace github.com/herald-sse/herald => ../

require (
	github.com/herald-sse/herald v0.0.0-00010101000000-000000000000
	github.com/tmaxmax/go-sse v0.11.0
)
